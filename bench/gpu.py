"""GPU speed: our ``detect`` and training step vs raw effdet's benches, in the same run.

Prints ONE JSON object:

* ``inference``: for each precision (fp32, and fp16 autocast on CUDA / bf16 autocast on the CPU)
  and batch size (1 and 64), the median latency (ms per batch) and images/s of
  ``efficientdet.prediction.detect`` (network + batched post-processing) and of effdet's
  ``DetBenchPredict`` (network + per-image post-processing) on the same weights and images, and
  whether their fp32 detections are identical.
* ``training``: images/s of a plain loop (forward with the batched anchor labeler, backward,
  AdamW step) vs effdet's ``DetBenchTrain`` (per-image labeler) at fp32 and AMP (fp16 with a
  GradScaler and bf16 on CUDA, bf16 on the CPU), on resident batches (no loader).
* ``peak_memory_mib`` per section when CUDA exists; ``syncs_per_train_step`` (host-device
  synchronizations CUDA's sync debug mode reports in one training step) for both.

Each timed pair alternates ours and effdet's, so a change in load hits both alike.

    python bench/gpu.py                 # d0 @ 512, inference batch 1 and 64, training batch 16, 32
    python bench/gpu.py --quick         # a tiny run (CPU: well under 2 minutes)
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import json
import os
import platform
import statistics
import time
import warnings
from collections.abc import Callable

import torch
from effdet import DetBenchPredict, DetBenchTrain

from efficientdet_adapter.efficientdet.loop import loss_step
from efficientdet_adapter.efficientdet.model import model as create_model
from efficientdet_adapter.efficientdet.prediction import detect

NUM_CLASSES = 5  # with the background: 4 foreground classes
LR = 1e-4


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


def _distinct_scores(model: torch.nn.Module) -> None:
    """Random class-head weights: distinct scores (a fresh head scores every box alike)."""
    g = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for p in model.model.class_net.predict.parameters():
            p.copy_(torch.randn(p.shape, generator=g) * 0.3)


def _time_pair(fns: dict[str, Callable[[], object]], iters: int, warmup: int,
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


def bench_inference(model, args, device: torch.device, precisions: list[str]) -> dict:
    h, w = model.config.img_size
    raw = DetBenchPredict(model.model).to(device).eval()
    model.eval()
    out: dict[str, dict] = {}
    for precision in precisions:
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

            _reset_peak(device)
            secs = _time_pair({"ours": ours, "effdet": effdet}, args.iters, args.warmup, device)
            entry = {
                f"{name}_ms_per_batch": round(s * 1e3, 2) for name, s in secs.items()
            } | {
                f"{name}_images_per_s": round(batch / s, 1) for name, s in secs.items()
            }
            entry["speedup_vs_effdet"] = round(secs["effdet"] / secs["ours"], 3)
            if precision == "fp32":
                entry["detections_identical_to_effdet"] = bool(torch.equal(ours(), effdet()))
            entry["peak_memory_mib"] = _peak_mib(device)
            out[f"{precision}_batch{batch}"] = entry
    return out


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
    opt = torch.optim.AdamW(module.parameters(), lr=LR)
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


def bench_training(model, args, device: torch.device, precisions: list[str]) -> dict:
    out: dict[str, dict] = {}
    for precision in precisions:
        for batch in args.train_batch_sizes:
            ours = copy.deepcopy(model).to(device).train()
            raw = DetBenchTrain(copy.deepcopy(model.model), create_labeler=True).to(device).train()
            data = _train_batch(batch, model.config.img_size, device, seed=batch)
            fns = {"ours": _step_fn(ours, data, precision, device, True),
                   "effdet": _step_fn(raw, data, precision, device, False)}
            _reset_peak(device)
            secs = _time_pair(fns, args.iters, args.warmup, device)
            entry = {f"{name}_images_per_s": round(batch / s, 2) for name, s in secs.items()}
            entry["speedup_vs_effdet"] = round(secs["effdet"] / secs["ours"], 3)
            entry["peak_memory_mib"] = _peak_mib(device)
            entry["syncs_per_train_step"] = {name: _count_syncs(fn, device) for name, fn in fns.items()}
            out[f"{precision}_batch{batch}"] = entry
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
    parser.add_argument("--device", default=None, help="default: cuda when available, else cpu")
    args = parser.parse_args()
    quick = args.quick
    args.model = args.model or ("tf_efficientdet_lite0" if quick else "efficientdet_d0")
    args.size = args.size or (128 if quick else 512)
    args.iters = args.iters or (2 if quick else 20)
    args.warmup = args.warmup if args.warmup is not None else (1 if quick else 5)
    args.infer_batch_sizes = args.infer_batch_sizes or ([1, 4] if quick else [1, 64])
    args.train_batch_sizes = args.train_batch_sizes or ([2] if quick else [16, 32])
    device = torch.device(args.device or ("cuda" if torch.cuda.is_available() else "cpu"))
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True
    amp = ["fp16", "bf16"] if device.type == "cuda" else ["bf16"]

    torch.manual_seed(0)
    model = create_model(model_name=args.model, num_classes=NUM_CLASSES, img_size=args.size)
    _distinct_scores(model)
    model = model.to(device)
    started = time.perf_counter()
    inference = bench_inference(model, args, device, ["fp32", amp[0]])
    training = bench_training(model, args, device, ["fp32", *amp])
    print(json.dumps({
        "model": args.model, "img_size": args.size, "quick": quick,
        "device": device.type,
        "gpu": torch.cuda.get_device_name(device) if device.type == "cuda" else "not available",
        "torch": torch.__version__, "torch_threads": torch.get_num_threads(),
        "cpu": platform.processor() or platform.machine(), "cpu_count": os.cpu_count(),
        "iters": args.iters, "warmup": args.warmup,
        "inference": inference, "training": training,
        "seconds": round(time.perf_counter() - started, 1),
    }, indent=2))


if __name__ == "__main__":
    main()
