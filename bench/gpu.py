"""GPU speed: inference, prediction on files and training, ours beside raw effdet, in one run.

Prints ONE JSON object:

* ``inference``: per precision (fp32; fp16 autocast on CUDA, bf16 autocast on the CPU) and batch
  size (1 and 64), the median ms per batch and images/s of ``efficientdet.prediction.detect``
  (network + batched post-processing), of effdet's ``DetBenchPredict`` (network + per-image
  post-processing) and of ``efficientdet.accelerate(model, precision=...)`` (channels_last and,
  on CUDA, ``torch.compile`` with CUDA graphs), on the same weights and images; whether ours and
  effdet's fp32 detections are identical, and how far the accelerated path's best detection per
  image is from ours (in half precision another box can come first: a large box difference).
  Equal scores may be ordered differently from effdet's (its NMS sorts them unstably), so the
  scores are also compared on their own.
* ``predict_files``: ``efficientdet.predict`` on JPEG files of 480-640 px (decode, resize, pad,
  normalize, model, NMS, boxes back in original pixels), images/s with no loader workers, with
  workers, and accelerated with workers.
* ``training``: images/s of a training step at fp32 and AMP (fp16 with a GradScaler and bf16 on
  CUDA, bf16 on the CPU), batch 16 and 32, on resident batches (no loader): a plain loop (ours:
  batched anchor labeler; also in channels_last) beside effdet's ``DetBenchTrain`` (per-image
  labeler), the fastai learner (with its default ``FusedAdam``, and with fastai's ``Adam``) and the
  Lightning adapter; host syncs per plain step (CUDA's sync debug mode).
* ``training_loader``: images/s of Lightning and fastai fed by ``train_dl`` over JPEG files with
  ``aug_tfms`` in loader workers (the issue's setting), fp32 and bf16, labels on the device, and
  (Lightning) labels in the workers.
* ``peak_memory_mib`` per row when CUDA exists.

Each timed group alternates its functions, so a change in load hits all of them alike. The
optimizer is torch's AdamW everywhere (``fused=True`` on CUDA: no host sync in a GradScaler step).

    python bench/gpu.py                 # d0 @ 512, inference batch 1 and 64, training batch 16, 32
    python bench/gpu.py --quick         # tiny sizes, few iterations (CPU: under 2 minutes)
    python bench/gpu.py --sections inference predict_files   # a part (each under 10 minutes)
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import json
import os
import platform
import statistics
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from effdet import DetBenchPredict, DetBenchTrain

from efficientdet_adapter.loop.steps import loss_step, use_channels_last
from efficientdet_adapter.model.model import model as create_model
from efficientdet_adapter.inference.prediction import detect, inference_tfm, predict
from efficientdet_adapter.model.runtime import accelerate

NUM_CLASSES = 5  # with the background: 4 foreground classes
LR = 1e-4
LIGHTNING_PRECISION = {"fp32": "32", "fp16": "16-mixed", "bf16": "bf16-mixed"}


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _autocast(device: torch.device, precision: str):
    if precision == "fp32":
        return contextlib.nullcontext()
    dtype = {"fp16": torch.float16, "bf16": torch.bfloat16}[precision]
    return torch.autocast(device_type=device.type, dtype=dtype)


def _peak_mib(device: torch.device) -> float | None:
    if device.type != "cuda":
        return None
    return round(torch.cuda.max_memory_allocated(device) / 2**20, 1)


def _reset_peak(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)


def _adamw(params, device: torch.device, lr: float = LR, **kwargs):
    return torch.optim.AdamW(params, lr=lr, fused=device.type == "cuda", **kwargs)


def _distinct_scores(model: torch.nn.Module) -> None:
    """Random class-head weights: distinct scores (a fresh head scores every box alike)."""
    g = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for p in model.model.class_net.predict.parameters():
            p.copy_(torch.randn(p.shape, generator=g) * 0.3)


def _time_group(fns: dict[str, Callable[[], object]], iters: int, warmup: int,
                device: torch.device) -> dict[str, float]:
    """Median seconds per call of each function, calls alternating between them."""
    for _ in range(warmup):
        for fn in fns.values():
            fn()
    times: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(iters):
        for name, fn in fns.items():
            _sync(device)
            start = time.perf_counter()
            fn()
            _sync(device)
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(t) for name, t in times.items()}


# -- inference ---------------------------------------------------------------------------------
def _accelerated(model, device: torch.device, precision: str, compile_: str | bool):
    """An accelerated copy (its channels_last weights do not touch the other rows' model)."""
    return accelerate(copy.deepcopy(model), device=device, precision=precision, compile=compile_)


def bench_inference(model, args, device: torch.device, precisions: list[str]) -> dict:
    h, w = model.config.img_size
    raw = DetBenchPredict(model.model).to(device).eval()
    model.eval()
    out: dict[str, dict] = {}
    for precision in precisions:
        fast = _accelerated(model, device, precision, args.compile)
        for batch in args.infer_batch_sizes:
            images = torch.randn(batch, 3, h, w, device=device)
            info = {"img_scale": torch.ones(batch, device=device),
                    "img_size": torch.tensor([[float(w), float(h)]] * batch, device=device)}

            def ours():
                with _autocast(device, precision):
                    return detect(model, images)

            def effdet():
                with torch.no_grad(), _autocast(device, precision):
                    return raw(images, info)

            def accelerated():
                return detect(fast, images)

            _reset_peak(device)
            fast.warmup([batch])  # compile (and record the CUDA graph) outside the timing
            fns = {"ours": ours, "effdet": effdet, "accelerated": accelerated}
            secs = _time_group(fns, args.iters, args.warmup, device)
            entry = {f"{name}_ms_per_batch": round(s * 1e3, 3) for name, s in secs.items()}
            entry |= {f"{name}_images_per_s": round(batch / s, 1) for name, s in secs.items()}
            entry["speedup_vs_effdet"] = round(secs["effdet"] / secs["ours"], 3)
            entry["accelerated_speedup_vs_effdet"] = round(secs["effdet"] / secs["accelerated"], 3)
            entry["accelerated"] = fast.extra_repr()
            if precision == "fp32":
                mine, theirs = ours(), effdet()
                entry["detections_identical_to_effdet"] = bool(torch.equal(mine, theirs))
                # equal scores may come in another order (torchvision's sort is unstable)
                entry["scores_identical_to_effdet"] = bool(torch.equal(mine[..., 4], theirs[..., 4]))
            ref, got = ours().float(), accelerated()
            entry["accelerated_top1_max_box_diff_px"] = round(
                float((ref[:, 0, :4] - got[:, 0, :4]).abs().max()), 5)
            entry["accelerated_top1_max_score_diff"] = round(
                float((ref[:, 0, 4] - got[:, 0, 4]).abs().max()), 6)
            entry["peak_memory_mib"] = _peak_mib(device)
            out[f"{precision}_batch{batch}"] = entry
    return out


# -- prediction on files -----------------------------------------------------------------------
def _write_jpegs(folder: Path, n: int, low: int, high: int) -> list[Path]:
    """``n`` JPEG photos-alike (smooth noise with shapes) of random sides in ``[low, high]``."""
    from PIL import Image

    rng = np.random.default_rng(0)
    paths = []
    for i in range(n):
        w, h = (int(v) for v in rng.integers(low, high + 1, 2))
        small = rng.integers(0, 256, (max(2, h // 16), max(2, w // 16), 3), dtype=np.uint8)
        img = Image.fromarray(small).resize((w, h), Image.BILINEAR)
        path = folder / f"img_{i:04d}.jpg"
        img.save(path, quality=90)
        paths.append(path)
    return paths


def bench_predict_files(model, args, device: torch.device, precision: str) -> dict:
    from efficientdet_adapter.records.dataset import Dataset

    workers = args.workers
    with tempfile.TemporaryDirectory() as tmp:
        files = _write_jpegs(Path(tmp), args.files, *args.file_sides)
        ds = Dataset.from_images(files, inference_tfm(model))
        fast = _accelerated(model, device, precision, args.compile)
        fast.warmup(sorted({args.predict_batch_size, len(files) % args.predict_batch_size} - {0}))
        runs = {
            "no_workers": lambda: predict(model, ds, batch_size=args.predict_batch_size,
                                          device=device, num_workers=0),
            f"{workers}_workers": lambda: predict(model, ds, batch_size=args.predict_batch_size,
                                                  device=device, num_workers=workers),
            f"accelerated_{precision}_{workers}_workers": lambda: predict(
                fast, ds, batch_size=args.predict_batch_size, device=device,
                num_workers=workers),
        }
        _reset_peak(device)
        secs = _time_group(runs, max(1, args.iters // 5), min(1, args.warmup), device)
    out = {f"{name}_images_per_s": round(len(files) / s, 1) for name, s in secs.items()}
    out |= {"files": len(files), "sides_px": list(args.file_sides),
            "batch_size": args.predict_batch_size, "peak_memory_mib": _peak_mib(device)}
    return out


# -- training ----------------------------------------------------------------------------------
def _train_batch(batch: int, size: tuple[int, int], device: torch.device, seed: int):
    """Random normalized images with 1-8 random yxyx boxes each, as effdet's targets."""
    g = torch.Generator().manual_seed(seed)
    h, w = size
    images = torch.randn(batch, 3, h, w, generator=g).to(device)
    boxes, classes = [], []
    for _ in range(batch):
        n = int(torch.randint(1, 9, (1,), generator=g))
        yx = torch.rand(n, 2, generator=g) * torch.tensor([h * 0.7, w * 0.7])
        hw = (0.05 + torch.rand(n, 2, generator=g) * 0.3) * torch.tensor([h, w])
        boxes.append(torch.cat([yx, yx + hw], 1).to(device))
        classes.append(torch.randint(1, NUM_CLASSES, (n,), generator=g).float().to(device))
    return images, {"bbox": boxes, "cls": classes}


def _step_fn(module, batch, precision: str, device: torch.device, ours: bool):
    opt = _adamw(module.parameters(), device)
    scaler = torch.amp.GradScaler(device.type, enabled=precision == "fp16")
    images, targets = batch

    def step():
        with _autocast(device, precision):
            if ours:
                loss = loss_step(module, ((images, targets), [None] * images.shape[0]))["loss"]
            else:
                loss = module(images, targets)["loss"]
        scaler.scale(loss).backward()
        scaler.step(opt)
        scaler.update()
        opt.zero_grad(set_to_none=True)

    return step


def _count_syncs(step: Callable[[], None], device: torch.device) -> int | None:
    if device.type != "cuda":
        return None
    _sync(device)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        torch.cuda.set_sync_debug_mode("warn")
        try:
            step()
        finally:
            torch.cuda.set_sync_debug_mode("default")
    _sync(device)
    return sum("synchroniz" in str(w.message) for w in caught)


def _resident_loader(batch, steps: int):
    """``steps`` times the same resident batch ``((images, targets), records)``, uncollated."""
    (images, targets) = batch
    item = ((images, targets), [None] * images.shape[0])
    return torch.utils.data.DataLoader([item] * steps, batch_size=None, collate_fn=lambda b: b)


def _fastai_rate(model, dl, batch_size: int, precision: str, device: torch.device, warmup: int,
                 iters: int, fastai_adam: bool = False) -> float:
    """Images/s of ``learn.fit`` (fastai's own loop, validation skipped) after ``warmup`` steps,
    with the learner's default ``FusedAdam`` or fastai's ``Adam`` (a Python loop over
    parameters, which also makes GradScaler read its flags on the host)."""
    from fastai.callback.core import Callback, CancelValidException
    from fastai.optimizer import Adam

    from efficientdet_adapter.efficientdet.fastai import learner

    marks: list[float] = []

    class Clock(Callback):
        order = 100

        def before_batch(self):
            if self.training and self.iter == warmup:
                _sync(device)
                marks.append(time.perf_counter())

        def after_train(self):
            _sync(device)
            marks.append(time.perf_counter())

        def before_validate(self):
            raise CancelValidException()

    with tempfile.TemporaryDirectory() as tmp:
        opt = {"opt_func": Adam} if fastai_adam else {}
        learn = learner([dl, dl], model, cbs=[Clock()], device=device, path=tmp, **opt)
        if precision == "fp16":
            learn.to_fp16()
        elif precision == "bf16":
            learn.to_bf16()
        with learn.no_bar(), learn.no_logging(), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            learn.fit(1, lr=LR)
    return iters * batch_size / (marks[-1] - marks[0])


def _lightning_rate(model, dl, batch_size: int, precision: str, device: torch.device,
                    warmup: int, iters: int) -> float:
    """Images/s of ``Trainer.fit`` (no validation, no logger, no bar) after ``warmup`` steps."""
    import logging

    import pytorch_lightning as pl

    from efficientdet_adapter.efficientdet.lightning import ModelAdapter

    marks: list[float] = []

    class Adapter(ModelAdapter):
        def configure_optimizers(self):
            return _adamw(self.parameters(), device)

    class Clock(pl.Callback):
        def on_train_batch_start(self, trainer, module, b, batch_idx):
            if batch_idx == warmup:
                _sync(device)
                marks.append(time.perf_counter())

        def on_train_end(self, *args):
            _sync(device)
            marks.append(time.perf_counter())

    logging.getLogger("pytorch_lightning").setLevel(logging.WARNING)
    with tempfile.TemporaryDirectory() as tmp, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        trainer = pl.Trainer(
            accelerator="gpu" if device.type == "cuda" else "cpu", devices=1,
            precision=LIGHTNING_PRECISION[precision], max_steps=warmup + iters, logger=False,
            callbacks=[Clock()], enable_checkpointing=False, enable_progress_bar=False,
            enable_model_summary=False, limit_val_batches=0, default_root_dir=tmp,
        )
        trainer.fit(Adapter(model), dl)
    return iters * batch_size / (marks[-1] - marks[0])


def bench_training(model, args, device: torch.device, precisions: list[str]) -> dict:
    out: dict[str, dict] = {}
    for precision in precisions:
        for batch_size in args.train_batch_sizes:
            data = _train_batch(batch_size, model.config.img_size, device, seed=batch_size)
            ours = copy.deepcopy(model).to(device).train()
            ours_cl = use_channels_last(copy.deepcopy(model).to(device).train())
            raw = DetBenchTrain(copy.deepcopy(model.model), create_labeler=True).to(device).train()
            fns = {"ours": _step_fn(ours, data, precision, device, True),
                   "ours_channels_last": _step_fn(ours_cl, data, precision, device, True),
                   "effdet": _step_fn(raw, data, precision, device, False)}
            _reset_peak(device)
            secs = _time_group(fns, args.iters, args.warmup, device)
            entry = {f"{name}_images_per_s": round(batch_size / s, 2) for name, s in secs.items()}
            entry["speedup_vs_effdet"] = round(secs["effdet"] / secs["ours"], 3)
            entry["peak_memory_mib"] = _peak_mib(device)
            entry["syncs_per_train_step"] = {name: _count_syncs(fn, device)
                                             for name, fn in fns.items()}
            del ours, ours_cl, raw, fns
            steps = (max(1, args.warmup), max(2, args.iters))
            dl = _resident_loader(data, sum(steps))
            _reset_peak(device)
            entry["fastai_images_per_s"] = round(_fastai_rate(
                copy.deepcopy(model), dl, batch_size, precision, device, *steps), 2)
            entry["fastai_peak_memory_mib"] = _peak_mib(device)
            entry["fastai_with_fastai_adam_images_per_s"] = round(_fastai_rate(
                copy.deepcopy(model), dl, batch_size, precision, device, *steps,
                fastai_adam=True), 2)
            _reset_peak(device)
            entry["lightning_images_per_s"] = round(_lightning_rate(
                copy.deepcopy(model), dl, batch_size, precision, device, *steps), 2)
            entry["lightning_peak_memory_mib"] = _peak_mib(device)
            out[f"{precision}_batch{batch_size}"] = entry
    return out


def _train_records(folder: Path, n: int, low: int, high: int) -> list:
    """Records over ``n`` JPEG files with 1-8 random boxes each (labels 1-4)."""
    from PIL import Image

    from efficientdet_adapter import BBox, Record

    rng = np.random.default_rng(1)
    records = []
    for i, path in enumerate(_write_jpegs(folder, n, low, high)):
        with Image.open(path) as img:
            w, h = img.size
        boxes, ids = [], []
        for _ in range(int(rng.integers(1, 9))):
            bw, bh = rng.integers(w // 20, w // 3), rng.integers(h // 20, h // 3)
            x0, y0 = rng.integers(0, w - bw), rng.integers(0, h - bh)
            boxes.append(BBox.from_xywh(int(x0), int(y0), int(bw), int(bh)))
            ids.append(int(rng.integers(1, NUM_CLASSES)))
        records.append(Record(record_id=i, filepath=path, width=w, height=h, bboxes=boxes,
                              label_ids=ids))
    return records


def bench_training_loader(model, args, device: torch.device, precisions: list[str]) -> dict:
    """Images/s of Lightning and fastai fed by ``train_dl`` (JPEG decode + ``aug_tfms`` in
    ``--train-workers`` processes), with the labels computed by the model on the device, and
    (Lightning) by the loader workers (``train_dl(anchor_labeler=model)``)."""
    from efficientdet_adapter.records.dataset import Dataset
    from efficientdet_adapter.loop.dataloaders import train_dl
    from efficientdet_adapter.model.model import normalize_tfm
    from efficientdet_adapter.tfms import A

    size = model.config.img_size[0]
    batch_size = max(args.train_batch_sizes)
    warmup, iters = max(1, args.warmup), max(2, args.iters)
    out: dict[str, object] = {"batch_size": batch_size, "workers": args.train_workers,
                              "tfms": f"aug_tfms({size}, presize={size * 5 // 4}) + normalize"}
    with tempfile.TemporaryDirectory() as tmp:
        records = _train_records(Path(tmp), (warmup + iters) * batch_size, *args.file_sides)
        ds = Dataset(records, A.Adapter([*A.aug_tfms(size, presize=size * 5 // 4),
                                         normalize_tfm(model)]))

        def loader(labels_in_workers: bool):
            return train_dl(ds, batch_size=batch_size, shuffle=True,
                            num_workers=args.train_workers, pin_memory=device.type == "cuda",
                            anchor_labeler=model if labels_in_workers else None)

        steps = (warmup, iters)
        for precision in precisions:
            entry = {
                "lightning_images_per_s": round(_lightning_rate(
                    copy.deepcopy(model), loader(False), batch_size, precision, device,
                    *steps), 2),
                "lightning_labels_in_workers_images_per_s": round(_lightning_rate(
                    copy.deepcopy(model), loader(True), batch_size, precision, device,
                    *steps), 2),
                "fastai_images_per_s": round(_fastai_rate(
                    copy.deepcopy(model), loader(False), batch_size, precision, device,
                    *steps), 2),
            }
            out[precision] = entry
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes, few iterations")
    parser.add_argument("--model", default=None, help="default efficientdet_d0 (quick: lite0)")
    parser.add_argument("--size", type=int, default=None, help="default 512 (quick: 128)")
    parser.add_argument("--iters", type=int, default=None, help="timed calls per case")
    parser.add_argument("--warmup", type=int, default=None)
    parser.add_argument("--infer-batch-sizes", type=int, nargs="+", default=None)
    parser.add_argument("--train-batch-sizes", type=int, nargs="+", default=None)
    parser.add_argument("--files", type=int, default=None, help="JPEGs for predict (512)")
    parser.add_argument("--workers", type=int, default=None, help="loader workers (4)")
    parser.add_argument("--predict-batch-size", type=int, default=None, help="default 32")
    parser.add_argument("--compile", choices=("auto", "yes", "no"), default="auto",
                        help="torch.compile the accelerated path (auto: on CUDA)")
    parser.add_argument("--train-workers", type=int, default=None,
                        help="loader workers of training_loader (default 12; quick: 2)")
    parser.add_argument("--sections", nargs="+", default=["inference", "predict_files",
                                                          "training", "training_loader"])
    parser.add_argument("--device", default=None, help="default: cuda when available, else cpu")
    args = parser.parse_args()
    quick = args.quick
    args.model = args.model or ("tf_efficientdet_lite0" if quick else "efficientdet_d0")
    args.size = args.size or (128 if quick else 512)
    args.iters = args.iters or (2 if quick else 20)
    args.warmup = args.warmup if args.warmup is not None else (1 if quick else 5)
    args.infer_batch_sizes = args.infer_batch_sizes or ([1, 4] if quick else [1, 64])
    args.train_batch_sizes = args.train_batch_sizes or ([2] if quick else [16, 32])
    args.files = args.files or (6 if quick else 512)
    args.file_sides = (96, 160) if quick else (480, 640)
    args.workers = args.workers if args.workers is not None else (2 if quick else 4)
    args.train_workers = (args.train_workers if args.train_workers is not None
                          else (2 if quick else min(12, os.cpu_count() or 1)))
    args.predict_batch_size = args.predict_batch_size or (4 if quick else 32)
    args.compile = {"auto": "auto", "yes": True, "no": False}[args.compile]
    device = torch.device(args.device or ("cuda" if torch.cuda.is_available() else "cpu"))
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True
    amp = ["fp16", "bf16"] if device.type == "cuda" else ["bf16"]

    torch.manual_seed(0)
    model = create_model(model_name=args.model, num_classes=NUM_CLASSES, img_size=args.size)
    _distinct_scores(model)
    model = model.to(device)
    started = time.perf_counter()
    report = {
        "model": args.model, "img_size": args.size, "quick": quick, "device": device.type,
        "gpu": torch.cuda.get_device_name(device) if device.type == "cuda" else "not available",
        "torch": torch.__version__, "torch_threads": torch.get_num_threads(),
        "cpu": platform.processor() or platform.machine(), "cpu_count": os.cpu_count(),
        "iters": args.iters, "warmup": args.warmup, "compile": args.compile,
    }
    if "inference" in args.sections:
        report["inference"] = bench_inference(model, args, device, ["fp32", amp[0]])
    if "predict_files" in args.sections:
        report["predict_files"] = bench_predict_files(model, args, device, amp[0])
    if "training" in args.sections:
        report["training"] = bench_training(model, args, device, ["fp32", *amp])
    if "training_loader" in args.sections:
        report["training_loader"] = bench_training_loader(model, args, device, ["fp32", amp[-1]])
    report["seconds"] = round(time.perf_counter() - started, 1)
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
