"""Held-out accuracy on real exports for a fixed budget of CPU seconds, with the CLI's defaults.

For each export under ``--root`` (default: the shared real Roboflow exports), this trains as
``efficientdet-adapter train --data EXPORT`` would (same defaults; extra ``train`` options after
``--`` override them; one PyTorch thread unless ``--threads``), but with as many epochs as fit ``--cpu-seconds`` of *process* CPU time
(all threads), so other load on the machine does not change the budget. Then it scores the model
on the export's ``valid`` split exactly as ``train`` does (``runs.evaluate``) and prints one JSON
object: per export, COCO AP, AP50, per-class AP, the epochs, and the CPU/wall seconds spent.

How the budget becomes epochs: the CPU cost of an epoch is measured on this machine before
training (``--calib-steps`` training steps after one warm-up step, plus one validation
forward), and the schedule gets ``floor((budget - calibration) / epoch cost)`` epochs (at least
1), so the one-cycle schedule completes instead of being cut. The seconds actually spent are
reported next to the budget.

    python bench/real_data.py --cpu-seconds 240
    python bench/real_data.py --cpu-seconds 240 -- --model tf_efficientdet_lite1
    python bench/real_data.py --root ../shared/data/real-exports --json out.json -- --lr 1e-2
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import math
import os
import platform
import sys
import tempfile
import time
import warnings
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_EXPORTS = ROOT.parent / "shared" / "data" / "real-exports"


def _exports(root: Path) -> list[Path]:
    if not root.is_dir():
        raise SystemExit(f"--root {root}: no such folder; pass the folder that holds the exports "
                         "(e.g. ../shared/data/real-exports)")
    found = sorted(p for p in root.iterdir() if p.is_dir() and (p / "train").is_dir())
    if not found:
        raise SystemExit(f"--root {root}: no export folders with a train/ split inside")
    return found


def _train_options(export: Path, train_args: list[str]):
    """The ``TrainOptions`` that ``efficientdet-adapter train --data EXPORT ARGS`` would use."""
    from efficientdet_adapter.cli import _options, build_parser

    args = build_parser().parse_args(
        ["train", "--data", str(export), "--out", "unused", "--progress", "lines", *train_args])
    return _options(args)


def _step_cpu_seconds(train, valid, class_map, opts, steps: int) -> tuple[float, float]:
    """CPU seconds of one training step and of one validation batch, measured here."""
    from efficientdet_adapter.dataset import Dataset
    from efficientdet_adapter.efficientdet import dataloaders
    from efficientdet_adapter.efficientdet.loop import loss_step
    from efficientdet_adapter.efficientdet.model import model as build_model
    from efficientdet_adapter.runs import _backbone_weights, _tfms

    torch.manual_seed(opts.seed)
    model = build_model(model_name=opts.model_name, num_classes=len(class_map),
                        img_size=opts.img_size, pretrained_backbone=_backbone_weights(opts))
    train_tfm, valid_tfm = _tfms(model, opts.img_size, opts.aug)
    dl = dataloaders.train_dl(Dataset(train, train_tfm), batch_size=opts.batch_size,
                              shuffle=True, anchor_labeler=model)
    opt = torch.optim.AdamW(model.parameters(), lr=opts.lr * 0.01)
    model.train()
    times = []
    batches = iter(dl)
    for i in range(steps + 1):
        try:
            batch = next(batches)
        except StopIteration:
            batches = iter(dl)
            batch = next(batches)
        t0 = time.process_time()
        loss = loss_step(model, batch)["loss"]
        opt.zero_grad()
        loss.backward()
        opt.step()
        if i:  # the first step warms up allocators and kernels
            times.append(time.process_time() - t0)
    vdl = dataloaders.valid_dl(Dataset(valid, valid_tfm), batch_size=opts.batch_size)
    batch = next(iter(vdl))
    t0 = time.process_time()
    with torch.no_grad():
        loss_step(model.train(), batch)  # what a validation step costs, roughly
    return sum(times) / len(times), time.process_time() - t0


def run_export(export: Path, budget: float, train_args: list[str], calib_steps: int) -> dict:
    """Train on ``export`` within ``budget`` CPU seconds and score its valid split."""
    from efficientdet_adapter.runs import evaluate, load_splits, train_model

    cpu0, wall0 = time.process_time(), time.perf_counter()
    opts = _train_options(export, train_args)
    train, valid, _, class_map, parser = load_splits(export, "auto", opts.seed)
    step_s, valid_s = _step_cpu_seconds(train, valid, class_map, opts, calib_steps)
    steps = max(1, len(train) // opts.batch_size)  # drop_last, as train_model does
    # 1.2: what the engine adds per step (callbacks, metric, schedule), measured on these sets
    epoch_s = 1.2 * (steps * step_s + math.ceil(len(valid) / opts.batch_size) * valid_s * 1.5)
    calib_s = time.process_time() - cpu0
    epochs = max(1, int((budget - calib_s) // epoch_s))
    opts.epochs = epochs
    cpu1, wall1 = time.process_time(), time.perf_counter()
    with tempfile.TemporaryDirectory() as out, contextlib.redirect_stdout(io.StringIO()):
        model = train_model(train, valid, class_map, opts, out=out)
    train_cpu, train_wall = time.process_time() - cpu1, time.perf_counter() - wall1
    with contextlib.redirect_stdout(io.StringIO()):
        metrics, _ = evaluate(model, valid, show_pbar=False)
    per_class = {k.split("class=", 1)[1]: round(v, 4) for k, v in metrics.items() if "class=" in k}
    return {
        "export": export.name,
        "train_images": len(train), "valid_images": len(valid),
        "valid_boxes": sum(len(r.detection.bboxes) for r in valid),
        "classes": list(class_map.foreground),
        "model": opts.model_name, "img_size": opts.img_size, "lr": opts.lr,
        "batch_size": opts.batch_size, "aug": opts.aug, "freeze_epochs": opts.freeze_epochs,
        "pretrained_backbone": opts.pretrained_backbone,
        "epochs": epochs, "budget_cpu_s": budget,
        "calibration_cpu_s": round(calib_s, 1),
        "estimated_epoch_cpu_s": round(epoch_s, 1),
        "train_cpu_s": round(train_cpu, 1), "train_wall_s": round(train_wall, 1),
        "total_cpu_s": round(time.process_time() - cpu0, 1),
        "total_wall_s": round(time.perf_counter() - wall0, 1),
        "AP": round(metrics["AP (IoU=0.50:0.95) area=all"], 4),
        "AP50": round(metrics["AP (IoU=0.50) area=all"], 4),
        "per_class_AP": per_class,
        "parse_fixes": parser.report.summary() if getattr(parser, "report", None) else "",
    }


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    train_args = []
    if "--" in argv:
        at = argv.index("--")
        argv, train_args = argv[:at], argv[at + 1:]
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--root", type=Path, default=DEFAULT_EXPORTS,
                   help="folder of export folders (default: %(default)s)")
    p.add_argument("--only", nargs="*", default=None, help="export folder names to run")
    p.add_argument("--cpu-seconds", type=float, default=240.0,
                   help="process CPU seconds per export, calibration included (default: 240)")
    p.add_argument("--calib-steps", type=int, default=2,
                   help="timed training steps that estimate an epoch's cost (default: 2)")
    p.add_argument("--threads", type=int, default=1,
                   help="PyTorch intra-op threads (default: 1: on a busy machine, OpenMP threads "
                        "that spin while waiting for a core burn CPU seconds without work, so "
                        "more threads make the CPU budget measure the load, not the training)")
    p.add_argument("--json", type=Path, default=None, help="also write the JSON here")
    args = p.parse_args(argv)
    warnings.filterwarnings("ignore")
    torch.set_num_threads(args.threads)
    os.environ.setdefault("EFFICIENTDET_ADAPTER_OFFLINE", "1")
    exports = _exports(args.root)
    if args.only:
        exports = [e for e in exports if e.name in set(args.only)]
    results = [run_export(e, args.cpu_seconds, train_args, args.calib_steps) for e in exports]
    report = {
        "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
                   f"torch {torch.__version__} ({torch.get_num_threads()} threads)",
        "train_args": train_args,
        "results": results,
    }
    text = json.dumps(report, indent=1)
    print(text)
    if args.json is not None:
        args.json.write_text(text + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
