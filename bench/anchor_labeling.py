"""Anchor labeling: in the model's forward or in the DataLoader workers? Prints JSON.

Usage::

    python bench/anchor_labeling.py                       # CPU, a few minutes
    python bench/anchor_labeling.py --device cuda --model efficientdet_d0 --size 512 --batch-size 16

Three measurements:

1. ``labeling_ms_per_image``: effdet's ``AnchorLabeler.batch_label_anchors`` alone, per image
   (one CPU thread), for d0 at 512 and lite0 at 384, images with 5 boxes.
2. ``train``: seconds per training step (forward + backward + AdamW step) of ``--model`` over
   ``train_dl(..., num_workers=N)``: (a) the bench labels anchors in its forward (effdet's
   default), (b) the workers label them (``train_dl(anchor_labeler=model)``) and the bench uses
   the precomputed labels. The batches hold already-normalized in-memory images, so the loader
   does nothing but collate (and label): the difference is the labeling alone. Wall time and the
   main process's CPU time are both reported (medians over ``--rounds`` alternating runs: the
   CPU time is the steadier number on a shared machine), with the labeling's own share of a
   step measured in the main process.
3. ``loader_only``: seconds per batch of the loader alone, with and without labeling, to see
   whether the workers would become the bottleneck.

Measured here (2 CPU cores shared with other jobs, ``OMP_NUM_THREADS=1``, 3 rounds): labeling
8.1 ms per image for d0 at 512 and 4.6 ms for lite0 at 384; lite0 at 256, batch 8: 2.40 s per
step labeling in the forward vs 2.46 s in the workers (labeling is 0.6% of a step); the loader
alone 8 ms vs 31 ms per batch. On a CPU it does not pay, hence off by default in ``train_dl``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from efficientdet_adapter import BBox, Record  # noqa: E402
from efficientdet_adapter.loop.dataloaders import (  # noqa: E402
    make_anchor_labeler,
    train_dl,
)


def make_records(n: int, size: int, num_boxes: int = 5, seed: int = 0) -> list[Record]:
    rng = np.random.default_rng(seed)
    records = []
    for i in range(n):
        xy = rng.uniform(0, size * 0.6, (num_boxes, 2))
        wh = rng.uniform(size * 0.05, size * 0.35, (num_boxes, 2))
        boxes = [BBox.from_xyxy(*p, *(p + s)) for p, s in zip(xy, wh)]
        records.append(Record(
            record_id=i, filepath=None, width=size, height=size,
            labels=["x"] * num_boxes, label_ids=list(rng.integers(1, 4, num_boxes)),
            bboxes=boxes, img=rng.standard_normal((size, size, 3)).astype(np.float32),
        ))
    return records


def labeling_ms_per_image(model_name: str, size: int, reps: int = 3) -> float:
    import effdet

    config = effdet.get_efficientdet_config(model_name)
    config.num_classes, config.image_size = 3, (size, size)
    labeler = make_anchor_labeler(config)
    recs = make_records(8, size)
    boxes = [torch.tensor([b.yxyx for b in r.bboxes], dtype=torch.float32) for r in recs]
    classes = [torch.tensor(r.label_ids, dtype=torch.float32) for r in recs]
    labeler.batch_label_anchors(boxes, classes)  # warm up
    start = time.perf_counter()
    for _ in range(reps):
        labeler.batch_label_anchors(boxes, classes)
    return (time.perf_counter() - start) / (reps * len(recs)) * 1000


def _to(targets: dict, device: str) -> dict:
    return {k: ([t.to(device) for t in v] if isinstance(v, list) else v.to(device))
            for k, v in targets.items()}


def train_seconds_per_step(args, in_workers: bool) -> float:
    import effdet
    from effdet import DetBenchTrain

    torch.manual_seed(0)
    bench = effdet.create_model(
        args.model, bench_task="train", num_classes=3, image_size=(args.size, args.size),
        pretrained_backbone=False, bench_labeler=True,
    )
    if in_workers:
        bench = DetBenchTrain(bench.model, create_labeler=False)
    bench = bench.to(args.device).train()
    opt = torch.optim.AdamW(bench.parameters(), lr=1e-4)
    recs = make_records(args.batch_size * (args.steps + args.warmup), args.size)
    dl = train_dl(
        recs, batch_size=args.batch_size, num_workers=args.num_workers,
        anchor_labeler=bench if in_workers else None, pin_memory=args.device == "cuda",
    )
    times, cpu = [], []
    tick, cpu_tick = time.perf_counter(), time.process_time()
    for (images, targets), _ in dl:
        out = bench(images.to(args.device, non_blocking=True), _to(targets, args.device))
        opt.zero_grad()
        out["loss"].backward()
        opt.step()
        if args.device == "cuda":
            torch.cuda.synchronize()
        tock, cpu_tock = time.perf_counter(), time.process_time()
        times.append(tock - tick)
        cpu.append(cpu_tock - cpu_tick)
        tick, cpu_tick = tock, cpu_tock
    return float(np.mean(times[args.warmup:])), float(np.mean(cpu[args.warmup:]))


def forward_labeling_seconds_per_step(args) -> float:
    """The labeling a bench does in its forward, alone, for one batch on ``--device``."""
    import effdet

    bench = effdet.create_model(
        args.model, bench_task="train", num_classes=3, image_size=(args.size, args.size),
        pretrained_backbone=False, bench_labeler=True,
    ).to(args.device)
    recs = make_records(args.batch_size, args.size)
    boxes = [torch.tensor([b.yxyx for b in r.bboxes], device=args.device) for r in recs]
    classes = [torch.tensor(r.label_ids, dtype=torch.float32, device=args.device) for r in recs]
    bench.anchor_labeler.batch_label_anchors(boxes, classes)
    start = time.perf_counter()
    for _ in range(args.steps):
        bench.anchor_labeler.batch_label_anchors(boxes, classes)
    if args.device == "cuda":
        torch.cuda.synchronize()
    return (time.perf_counter() - start) / args.steps


def loader_seconds_per_batch(args, with_labels: bool) -> float:
    import effdet

    config = effdet.get_efficientdet_config(args.model)
    config.num_classes, config.image_size = 3, (args.size, args.size)
    recs = make_records(args.batch_size * (args.steps + args.warmup), args.size)
    dl = train_dl(recs, batch_size=args.batch_size, num_workers=args.num_workers,
                  anchor_labeler=config if with_labels else None)
    times = []
    tick = time.perf_counter()
    for _ in dl:
        tock = time.perf_counter()
        times.append(tock - tick)
        tick = tock
    return float(np.mean(times[args.warmup:]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="tf_efficientdet_lite0")
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--steps", type=int, default=6)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--num-workers", type=int, default=2)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    result = {
        "labeling_ms_per_image": {
            f"{m}@{s}": round(labeling_ms_per_image(m, s), 2)
            for m, s in (("efficientdet_d0", 512), ("tf_efficientdet_lite0", 384))
        },
    }
    torch.set_num_threads(threads)
    runs = {False: [], True: []}
    for _ in range(args.rounds):
        for in_workers in (False, True):
            runs[in_workers].append(train_seconds_per_step(args, in_workers))
    (fwd_wall, fwd_cpu), (wrk_wall, wrk_cpu) = (
        tuple(np.median(np.array(runs[w]), axis=0)) for w in (False, True)
    )
    result["train"] = {
        "model": args.model, "size": args.size, "batch_size": args.batch_size,
        "num_workers": args.num_workers, "device": args.device, "torch_threads": threads,
        "rounds": args.rounds,
        "wall_s_per_step_labels_in_forward": round(fwd_wall, 4),
        "wall_s_per_step_labels_in_workers": round(wrk_wall, 4),
        "wall_speedup": round(fwd_wall / wrk_wall, 3),
        "main_cpu_s_per_step_labels_in_forward": round(fwd_cpu, 4),
        "main_cpu_s_per_step_labels_in_workers": round(wrk_cpu, 4),
        "labeling_in_forward_s_per_step": round(forward_labeling_seconds_per_step(args), 4),
    }
    result["train"]["labeling_share_of_step"] = round(
        result["train"]["labeling_in_forward_s_per_step"] / fwd_wall, 4
    )
    result["loader_only"] = {
        "s_per_batch_plain": round(loader_seconds_per_batch(args, with_labels=False), 4),
        "s_per_batch_with_labels": round(loader_seconds_per_batch(args, with_labels=True), 4),
    }
    result["cpu_count"] = os.cpu_count()
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
