"""Seconds per training step: a plain loop vs the fastai learner vs the Lightning adapter.

Same model (tf_efficientdet_lite0 at 384 px, batch 8, everything trainable), same optimizer
(torch AdamW, lr 1e-4), same precomputed batches, on the CPU. In each of ``--rounds`` rounds,
each loop runs ``--warmup`` steps, then ``--steps`` timed steps; a step is timed from the start
of one batch to the start of the next (forward, backward, optimizer step and whatever the engine
does between batches), in wall-clock and in process CPU seconds. Prints JSON with the medians of
each loop and their ratios to the plain loop.

    OMP_NUM_THREADS=2 python bench/train_step.py --steps 3 --rounds 2
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import platform
import statistics
import time
from functools import partial

import numpy as np
import torch
from torch.utils.data import DataLoader

from efficientdet_adapter import BBox, Record
from efficientdet_adapter.records.class_map import ClassMap
from efficientdet_adapter.efficientdet import model as create_model
from efficientdet_adapter.loop.dataloaders import build_train_batch
from efficientdet_adapter.loop.steps import loss_step

LR = 1e-4


def make_batches(n: int, batch_size: int, size: int, num_classes: int) -> list:
    """``n`` training batches of random normalized images with 1-4 random boxes each."""
    rng = np.random.default_rng(0)
    class_map = ClassMap([f"c{i}" for i in range(1, num_classes)])
    batches = []
    for b in range(n):
        records = []
        for i in range(batch_size):
            k = int(rng.integers(1, 5))
            xy = rng.uniform(0, size * 0.6, (k, 2))
            wh = rng.uniform(size * 0.1, size * 0.4, (k, 2))
            records.append(Record(
                record_id=b * batch_size + i, filepath=None, width=size, height=size,
                label_ids=rng.integers(1, num_classes, k).tolist(),
                labels=["x"] * k,
                bboxes=[BBox.from_xyxy(x, y, x + w, y + h) for (x, y), (w, h) in zip(xy, wh)],
                img=rng.standard_normal((size, size, 3)).astype(np.float32),
                class_map=class_map,
            ))
        batches.append(build_train_batch(records))
    return batches


def loader(batches: list) -> DataLoader:
    """A DataLoader that yields the prepared batches as they are (no collation, no workers)."""
    return DataLoader(batches, batch_size=None, shuffle=False)


def adamw(params, lr=LR):
    return torch.optim.AdamW(params, lr=lr)


class StepClock:
    """Wall and process-CPU timestamps at the start of every batch; per-step differences.

    CPU time (all threads of this process) is what a step costs the machine; wall time also
    counts waiting for a CPU, which dominates on a shared machine.
    """

    def __init__(self) -> None:
        self.wall: list[float] = []
        self.cpu: list[float] = []

    def tick(self) -> None:
        self.wall.append(time.perf_counter())
        self.cpu.append(time.process_time())

    def durations(self, skip: int) -> dict[str, list[float]]:
        return {"wall": np.diff(self.wall).tolist()[skip:], "cpu": np.diff(self.cpu).tolist()[skip:]}


def plain(model, batches, warmup: int) -> list[float]:
    clock = StepClock()
    model.train()
    opt = adamw(model.parameters())
    for batch in loader(batches):
        clock.tick()
        loss = loss_step(model, batch)["loss"]
        loss.backward()
        opt.step()
        opt.zero_grad()
    clock.tick()
    return clock.durations(warmup)


def fastai_loop(model, batches, warmup: int, path) -> list[float]:
    from fastai.callback.core import Callback
    from fastai.optimizer import OptimWrapper

    from efficientdet_adapter.efficientdet.fastai import learner

    clock = StepClock()

    class Clock(Callback):
        def before_batch(self):
            if self.training:
                clock.tick()

        def after_train(self):
            clock.tick()

    dl = loader(batches)
    learn = learner([dl, loader(batches[:1])], model, cbs=[Clock()], path=path,
                    opt_func=partial(OptimWrapper, opt=adamw))
    with learn.no_bar(), learn.no_logging():
        learn.fit(1, lr=LR)
    return clock.durations(warmup)


def lightning_loop(model, batches, warmup: int) -> list[float]:
    import pytorch_lightning as pl

    from efficientdet_adapter.efficientdet.lightning import ModelAdapter

    clock = StepClock()

    class Adapter(ModelAdapter):
        def configure_optimizers(self):
            return adamw(self.parameters())

    class Clock(pl.Callback):
        def on_train_batch_start(self, *args):
            clock.tick()

        def on_train_epoch_end(self, *args):
            clock.tick()

    trainer = pl.Trainer(accelerator="cpu", max_epochs=1, logger=False, callbacks=[Clock()],
                         enable_checkpointing=False, enable_progress_bar=False,
                         enable_model_summary=False, limit_val_batches=0)
    trainer.fit(Adapter(model), loader(batches))
    return clock.durations(warmup)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="tf_efficientdet_lite0")
    parser.add_argument("--size", type=int, default=384)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--steps", type=int, default=3, help="timed steps per loop and round")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--out", default="/tmp/efficientdet_bench", help="fastai's model folder")
    args = parser.parse_args()

    torch.manual_seed(0)
    base = create_model(model_name=args.model, num_classes=5, img_size=args.size)
    batches = make_batches(args.warmup + args.steps, args.batch_size, args.size, 5)
    loops = {
        "plain": lambda m: plain(m, batches, args.warmup),
        "fastai": lambda m: fastai_loop(m, batches, args.warmup, args.out),
        "lightning": lambda m: lightning_loop(m, batches, args.warmup),
    }
    # Rounds alternate the loops, so a change in the machine's load hits all of them alike.
    times: dict[str, dict[str, list[float]]] = {n: {"wall": [], "cpu": []} for n in loops}
    for _ in range(args.rounds):
        for name, run in loops.items():
            for kind, values in run(copy.deepcopy(base)).items():
                times[name][kind] += values
    result = {}
    for name, t in times.items():
        result[name] = {
            "median_wall_s_per_step": round(statistics.median(t["wall"]), 4),
            "median_cpu_s_per_step": round(statistics.median(t["cpu"]), 4),
            "wall_s": [round(d, 3) for d in t["wall"]],
        }
    for name in result:
        for kind in ("wall", "cpu"):
            key = f"median_{kind}_s_per_step"
            result[name][f"{kind}_ratio_to_plain"] = round(result[name][key] / result["plain"][key], 4)
    print(json.dumps({
        "model": args.model, "img_size": args.size, "batch_size": args.batch_size,
        "optimizer": f"torch.optim.AdamW(lr={LR}), all parameters trainable",
        "device": "cpu", "torch_threads": torch.get_num_threads(),
        "cpu_count": os.cpu_count(), "load_average_after": [round(x, 2) for x in os.getloadavg()],
        "cpu": platform.processor() or platform.machine(),
        "warmup_steps": args.warmup, "timed_steps_per_round": args.steps, "rounds": args.rounds,
        "loops": result,
        "gpu": "not available" if not torch.cuda.is_available() else torch.cuda.get_device_name(),
    }, indent=2))


if __name__ == "__main__":
    main()
