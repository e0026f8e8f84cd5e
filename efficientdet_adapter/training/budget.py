"""A wall-clock budget for training (``train --time 10m``): epochs fitted from measured steps.

Ultralytics' ``time=`` cuts a run when its time is up; here the budget decides the number of
epochs *before* training instead, so the one-cycle schedule (warm-up, peak, annealing) completes
inside it. `measure_epoch_cost` times, on a throwaway copy of the model and the run's own
data loaders, a few training steps (forward, backward, optimizer; the first one, which warms
allocators and kernels up, is not counted), a whole validation pass (losses, detections and
COCOMetric, as every epoch runs it) and the two checkpoints written per epoch.
`epochs_for_budget` then gives the epochs that fit what is left of the budget after the
measurement, keeping back one more validation pass for the final scoring and a safety share
(`SAFETY`) for what varies (machine load, the first epoch's start-up).

Example:
    >>> parse_duration("10m"), parse_duration("1h30m"), parse_duration("600")
    (600.0, 5400.0, 600.0)
    >>> cost = EpochCost(step_s=0.5, steps_per_epoch=20, valid_s=4.0, save_s=1.0)
    >>> cost.epoch_s, epochs_for_budget(600, cost, spent_s=10)
    (15.0, 35)
"""

from __future__ import annotations

import copy
import io
import math
import re
import time
from dataclasses import asdict, dataclass
from typing import Any
from ..errors import UsageError

__all__ = ["SAFETY", "MAX_BUDGET_EPOCHS", "MEASURED_STEPS", "parse_duration", "EpochCost",
           "measure_epoch_cost", "epochs_for_budget", "BudgetPlan", "plan_budget", "apply_budget"]

#: The share of the budget left unplanned, for what varies between the measurement and the run.
SAFETY = 0.10
#: The most epochs a budget gives when ``--epochs`` does not cap it.
MAX_BUDGET_EPOCHS = 300

_UNITS = {"s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)([smhd])")


def parse_duration(text: str) -> float:
    """Seconds in ``text``: a number of seconds (``600``), or numbers with units s/m/h/d
    (``600s``, ``10m``, ``1.5h``, ``1h30m``).

    Raises:
        ValueError: not a duration, or not above zero (the message gives the forms).
    """
    value = str(text).strip().lower()
    seconds: float | None = None
    try:
        seconds = float(value)
    except ValueError:
        if value and _PART.sub("", value) == "":
            seconds = sum(float(n) * _UNITS[u] for n, u in _PART.findall(value))
    if seconds is None or not math.isfinite(seconds) or seconds <= 0:
        raise UsageError(f"{text!r} is not a duration above zero: give seconds (600, 600s) or "
                         "minutes/hours (10m, 1h, 1h30m)")
    return float(seconds)


@dataclass(frozen=True)
class EpochCost:
    """Measured seconds of one epoch's parts.

    Attributes:
        step_s: one training step (loading the batch included).
        steps_per_epoch: training steps in an epoch.
        valid_s: one validation pass (every batch, and COCOMetric).
        save_s: the checkpoints written after each epoch (``last.pt``, and ``best.pt``).
    """

    step_s: float
    steps_per_epoch: int
    valid_s: float
    save_s: float = 0.0

    @property
    def epoch_s(self) -> float:
        return self.steps_per_epoch * self.step_s + self.valid_s + self.save_s


@dataclass(frozen=True)
class BudgetPlan:
    """What a budget gave: ``epochs`` from ``cost``, after ``measure_s`` of measuring."""

    budget_s: float
    epochs: int
    cost: EpochCost
    measure_s: float
    capped_by: int | None  # the --epochs cap, when it was lower than the budget's epochs
    too_short: bool = False  # not even one epoch fits: the run takes longer than the budget

    def to_dict(self) -> dict[str, Any]:
        """Plain data for checkpoints (``last.pt`` and ``model.pt`` keep it)."""
        return {"budget_s": self.budget_s, "epochs": self.epochs,
                "epoch_s": round(self.cost.epoch_s, 3), "measure_s": round(self.measure_s, 3),
                "capped_by": self.capped_by, "too_short": self.too_short,
                **{k: round(v, 4) if isinstance(v, float) else v
                   for k, v in asdict(self.cost).items()}}

    def describe(self) -> str:
        c = self.cost
        text = (f"--time {self.budget_s:g} s: an epoch takes ~{c.epoch_s:.1f} s here "
                f"({c.steps_per_epoch} steps of {c.step_s:.2f} s, validation {c.valid_s:.1f} s, "
                f"checkpoints {c.save_s:.1f} s; measured in {self.measure_s:.1f} s): "
                f"{self.epochs} epoch{'s' if self.epochs != 1 else ''}")
        if self.capped_by is not None:
            text += f" (--epochs {self.capped_by} caps the budget's epochs)"
        if self.too_short:
            text += (" (the budget is shorter than one epoch here: this run will take longer; "
                     "give more --time, or a smaller --img-size)")
        return text


def epochs_for_budget(budget_s: float, cost: EpochCost, spent_s: float = 0.0) -> int:
    """The epochs that fit ``budget_s`` after ``spent_s``: one validation pass is kept back for
    the final scoring and `SAFETY` of the budget for what varies; at least 1."""
    usable = budget_s * (1 - SAFETY) - spent_s - cost.valid_s
    return max(1, int(usable // max(cost.epoch_s, 1e-9)))


def _autocast(device: str, precision: str):
    import contextlib

    import torch

    from ..devices import engine_precision

    dtype = engine_precision(precision, "torch")  # any spelling: fp16, 16-mixed...
    if dtype is not None:
        return torch.autocast(device_type=device.split(":")[0], dtype=dtype)
    return contextlib.nullcontext()


def _sync(device: str) -> None:
    import torch

    if device.startswith("cuda"):
        torch.cuda.synchronize(device)


#: Training steps timed by :func:`measure_epoch_cost`. On the pothole export (2 CPU cores, 0.9 s
#: a step) three steps measured 0.78, 0.89 and 1.08 s a step for the same work: a plan 20% short
#: (the run stopped an epoch early, its learning rate not yet annealed) or 30% long (a third of
#: the budget unused). Eight steps bring that spread down by the square root of 8/3.
MEASURED_STEPS = 8


def measure_epoch_cost(model, train_dl, valid_dl, *, device: str = "cpu",
                       precision: str = "32", steps: int = MEASURED_STEPS,
                       lr: float = 1e-4) -> EpochCost:
    """Time ``steps`` training steps (after one warm-up step), a validation pass over all of
    ``valid_dl`` and two checkpoint writes, on a copy of ``model`` (which is left untouched).
    A loader shorter than ``steps`` starts again from its first batch."""
    import torch

    from ..engines.steps import loss_step, to_device, validation_step
    from ..metrics import COCOMetric

    dev = torch.device(device)
    probe = copy.deepcopy(model).to(dev).train()
    opt = torch.optim.AdamW(probe.parameters(), lr=lr)
    times: list[float] = []
    batches = iter(train_dl)
    for i in range(steps + 1):
        t0 = time.perf_counter()
        try:
            batch = next(batches)
        except StopIteration:
            batches = iter(train_dl)
            batch = next(batches)
        (images, targets), records = batch
        batch = ((to_device(images, dev), to_device(targets, dev)), records)
        with _autocast(device, precision):
            loss = loss_step(probe, batch)["loss"]
        opt.zero_grad()
        loss.backward()
        opt.step()
        _sync(device)
        if i:  # the first step warms allocators and kernels up
            times.append(time.perf_counter() - t0)
    t0 = time.perf_counter()
    metric = COCOMetric()
    for batch in valid_dl:
        with _autocast(device, precision):
            _, preds = validation_step(probe, batch)
        metric.accumulate(preds)
    metric.finalize()
    _sync(device)
    valid_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    for _ in range(2):  # last.pt and (often) best.pt
        torch.save({k: v.detach().cpu() for k, v in probe.state_dict().items()}, io.BytesIO())
    save_s = time.perf_counter() - t0
    return EpochCost(step_s=sum(times) / len(times), steps_per_epoch=len(train_dl),
                     valid_s=valid_s, save_s=save_s)


def plan_budget(budget_s: float, model, train_dl, valid_dl, *, started: float,
                max_epochs: int | None = None, device: str = "cpu", precision: str = "32"
                ) -> BudgetPlan:
    """Measure (`measure_epoch_cost`) and fit the epochs to what is left of ``budget_s``
    since ``started`` (a ``time.perf_counter()`` value); ``max_epochs`` caps them."""
    t0 = time.perf_counter()
    cost = measure_epoch_cost(model, train_dl, valid_dl, device=device, precision=precision)
    measure_s = time.perf_counter() - t0
    spent = time.perf_counter() - started
    fitted = epochs_for_budget(budget_s, cost, spent_s=spent)
    capped = max_epochs is not None and max_epochs < fitted
    too_short = budget_s * (1 - SAFETY) - spent - cost.valid_s < cost.epoch_s
    return BudgetPlan(budget_s=float(budget_s), epochs=max_epochs if capped else fitted,
                      cost=cost, measure_s=measure_s, capped_by=max_epochs if capped else None,
                      too_short=too_short)


def apply_budget(opts: Any, model, train_dl, valid_dl, *, started: float, device: str = "cpu",
                 precision: str = "32") -> BudgetPlan:
    """`plan_budget` for ``opts.time`` seconds, capped by ``opts.epochs``; sets
    ``opts.epochs`` to the planned epochs (less ``opts.freeze_epochs``, which fastai's
    ``fine_tune`` trains first) and prints what it measured and chose."""
    from ..errors import UsageError
    from ..version_compat import import_fastai_quietly, lightning_package

    if opts.devices * opts.num_nodes > 1:  # every process would fit its own epochs
        raise UsageError("--time: not for multi-device (DDP) training; give --epochs")
    # the engine's import is part of the run's time: taken now, it is counted as spent
    if opts.engine == "fastai":
        import_fastai_quietly()
    else:
        lightning_package("train --engine lightning")
    plan = plan_budget(opts.time, model, train_dl, valid_dl, started=started,
                       max_epochs=opts.epochs + opts.freeze_epochs, device=device,
                       precision=precision)
    opts.epochs = max(1, plan.epochs - opts.freeze_epochs)
    print(plan.describe(), flush=True)
    return plan
