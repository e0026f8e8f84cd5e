"""End-to-end prediction speed on the CPU: JPEG decode, transforms, model, NMS, original pixels.

Prints one JSON object: for ``tf_efficientdet_lite0`` and ``efficientdet_d0`` (untrained, 5
classes; speed does not depend on the weights: effdet always ranks its 5000 best candidates and
runs NMS on them. The weights are randomized so that scores differ: a fresh net scores every box
alike, and ties make NMS pick arbitrary boxes), at batch 1 and 8, images per second through
``efficientdet.predict`` (PyTorch) and through the exported ONNX graph in ONNX Runtime
(``efficientdet.predict`` on ``load_onnx``'s model: same decode, resize and pad, NMS inside the
graph, same mapping back to the original images), plus how far the ONNX boxes are from
PyTorch's. Images are the synthetic demo JPEGs (160-320 px, several aspect ratios).

Usage: ``python bench/predict.py [--images 16] [--threads N] [--models ...]``
"""

from __future__ import annotations

import argparse
import json
import platform
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from efficientdet_adapter.records.dataset import Dataset
from efficientdet_adapter.app.demo import write_demo_dataset
from efficientdet_adapter.loop.dataloaders import infer_dl
from efficientdet_adapter.model.onnx_model import load_onnx
from efficientdet_adapter.checkpoints.export import export_onnx
from efficientdet_adapter.model.model import model as build_model
from efficientdet_adapter.inference.prediction import inference_tfm, predict

SIZES = {"tf_efficientdet_lite0": 384, "efficientdet_d0": 512}


def _distinct_scores(model) -> None:
    """Random BatchNorm statistics and class-head weights: varied features, distinct scores."""
    g = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for mod in model.modules():
            if isinstance(mod, torch.nn.modules.batchnorm._BatchNorm):
                mod.running_var.uniform_(0.5, 2.0, generator=g)
                mod.running_mean.normal_(0.0, 0.1, generator=g)
                mod.weight.uniform_(0.5, 1.5, generator=g)
        for p in model.model.class_net.predict.parameters():
            p.normal_(0.0, 0.3, generator=g)


def _onnx_predict(onnx_model, files: list[Path], batch_size: int) -> list[np.ndarray]:
    """Detections per image, in original pixels, through ONNX Runtime: ``[N, 6]`` rows
    ``x1, y1, x2, y2, score, label id``."""
    ds = Dataset.from_images(files, inference_tfm(onnx_model))
    preds = predict(onnx_model, ds, batch_size=batch_size, device="cpu")
    return [np.concatenate([p.boxes, p.scores[:, None], p.label_ids[:, None]], 1) for p in preds]


def _rate(fn, n_images: int, repeats: int = 2) -> dict[str, float]:
    fn()  # warm-up: first-call costs (allocations, TorchScript profiling of effdet's NMS)
    best_wall = best_cpu = float("inf")
    for _ in range(repeats):
        wall, cpu = time.perf_counter(), time.process_time()
        fn()
        best_wall = min(best_wall, time.perf_counter() - wall)
        best_cpu = min(best_cpu, time.process_time() - cpu)
    return {"images_per_s": round(n_images / best_wall, 2),
            "images_per_cpu_s": round(n_images / best_cpu, 2)}


def bench_model(name: str, files: list[Path], tmp: Path, batch_sizes: list[int]) -> dict:
    torch.manual_seed(0)
    model = build_model(model_name=name, num_classes=6, img_size=SIZES[name]).eval()
    _distinct_scores(model)
    ds = Dataset.from_images(files, inference_tfm(model))
    onnx_path = export_onnx(model, tmp / f"{name}.onnx")
    onnx_model = load_onnx(onnx_path, providers=["CPUExecutionProvider"],
                           threads=torch.get_num_threads())

    result = {"img_size": SIZES[name], "images": len(files)}
    for bs in batch_sizes:
        result[f"pytorch_batch{bs}"] = _rate(lambda: predict(model, ds, batch_size=bs), len(files))
        result[f"onnxruntime_batch{bs}"] = _rate(lambda: _onnx_predict(onnx_model, files, bs), len(files))
    preds = predict(model, ds, batch_size=8)
    onnx = _onnx_predict(onnx_model, files, 8)
    # Each PyTorch detection against the nearest ONNX one of the same class: the same boxes
    # up to float noise, except where a near-tie lets NMS keep another box of a cluster.
    nearest, total = [], 0
    for p, o in zip(preds, onnx):
        total += len(p.boxes)
        for box, label in zip(p.boxes, p.label_ids):
            same = o[o[:, 5] == label][:, :4]
            if len(same):
                nearest.append(float(np.abs(same - box).max(axis=1).min()))
    nearest = np.asarray(nearest)
    close = nearest[nearest < 0.01]
    result["onnx_detections_matching_pytorch"] = f"{len(close)}/{total} (within 0.01 px)"
    result["onnx_vs_pytorch_max_abs_box_diff_px"] = float(close.max()) if len(close) else None
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=16)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--models", nargs="+", default=list(SIZES))
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[1, 8])
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        root = write_demo_dataset(tmp / "data", num_images=args.images, splits=(1.0, 0.0, 0.0))
        files = sorted((root / "train").glob("*.jpg"))
        report = {
            "device": "cpu",
            "gpu": "none: no GPU machine was lent to this task",
            "cpu": platform.processor() or platform.machine(),
            "torch_threads": torch.get_num_threads(),
            "torch": torch.__version__,
            "pipeline": "JPEG decode + resize_and_pad + Normalize + model + NMS + original pixels",
            "models": {name: bench_model(name, files, tmp, args.batch_sizes)
                       for name in args.models},
        }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
