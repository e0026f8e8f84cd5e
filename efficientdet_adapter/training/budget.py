"""A wall-clock budget for training (``train --time 10m``): a short probe, then a clock.

Ultralytics' ``time=`` cuts a run when its time is up; here the budget plans the run's optimizer
steps instead, so the one-cycle schedule (warm-up, peak, annealing) completes inside it.
`measure_epoch_cost` probes, on a throwaway copy of the model and the run's own data
loaders, a few seconds of training steps (forward, backward, optimizer; the first one, which
warms allocators and kernels up, is not counted), a couple of validation batches and the two
checkpoints written per epoch. `plan_budget` turns that into a first plan, a
`BudgetClock`, which the engines' callbacks plan again at every epoch's
start from what the last epoch really took (`budget_clock`): the probe only has to be
good enough for the first epoch. The budget is the training's: its last epoch ends near it, and
the final scoring of the best epoch (about one validation pass) follows.

Example:
    >>> parse_duration("10m"), parse_duration("1h30m"), parse_duration("600")
    (600.0, 5400.0, 600.0)
    >>> cost = EpochCost(step_s=0.5, steps_per_epoch=20, valid_s=4.0, save_s=1.0)
    >>> cost.epoch_s, epochs_for_budget(600, cost, spent_s=10)
    (15.0, 39)
"""

from __future__ import annotations

import copy
import io
import math
import re
import time
from dataclasses import asdict, dataclass
from typing import Any
from efficientdet_adapter.base.errors import UsageError

from efficientdet_adapter.training.budget_clock import BudgetClock

__all__ = ["MAX_BUDGET_EPOCHS", "MEASURED_STEPS", "PROBE_SECONDS", "parse_duration", "EpochCost",
           "measure_epoch_cost", "epochs_for_budget", "BudgetPlan", "plan_budget", "apply_budget"]

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
    """What a budget's probe gave: ``cost``, measured in ``measure_s``, and the first plan of
    the run's `BudgetClock` (``clock``), which each epoch plans again."""

    budget_s: float
    cost: EpochCost
    measure_s: float
    clock: BudgetClock
    capped_by: int | None  # the --epochs cap, when it was lower than the budget's epochs

    @property
    def epochs(self) -> int:
        """The first plan's epochs (the last one may be shorter)."""
        return self.clock.epochs

    @property
    def too_short(self) -> bool:
        """Not even one whole epoch fits: the run trains part of one."""
        return self.clock.total_steps < self.cost.steps_per_epoch

    def to_dict(self) -> dict[str, Any]:
        """Plain data for checkpoints (``last.pt`` and ``model.pt`` keep it, with the clock's
        latest state under ``clock``)."""
        return {"budget_s": self.budget_s, "epochs": self.epochs,
                "epoch_s": round(self.cost.epoch_s, 3), "measure_s": round(self.measure_s, 3),
                "capped_by": self.capped_by, "too_short": self.too_short,
                **{k: round(v, 4) if isinstance(v, float) else v
                   for k, v in asdict(self.cost).items()},
                "clock": self.clock.to_dict()}

    def describe(self) -> str:
        c, clock = self.cost, self.clock
        text = (f"--time {self.budget_s:g} s: a step takes ~{c.step_s:.2f} s here "
                f"({c.steps_per_epoch} steps an epoch, then validation ~{c.valid_s:.1f} s and "
                f"checkpoints ~{c.save_s:.1f} s; probed in {self.measure_s:.1f} s): "
                f"{clock.total_steps} steps, {self.epochs} epoch{'s' if self.epochs != 1 else ''}"
                ", planned again at each epoch from its measured time")
        if self.capped_by is not None:
            text += f" (--epochs {self.capped_by} caps the budget's epochs)"
        if self.too_short:
            text += (f" (the budget is shorter than one epoch here: the run trains "
                     f"{clock.total_steps} of its {c.steps_per_epoch} steps; give more --time, "
                     "or a smaller --img-size)")
        return text


def epochs_for_budget(budget_s: float, cost: EpochCost, spent_s: float = 0.0) -> int:
    """The whole epochs that fit ``budget_s`` after ``spent_s``, one validation pass kept back
    for the final scoring; at least 1."""
    usable = budget_s - spent_s - cost.valid_s
    return max(1, int(usable // max(cost.epoch_s, 1e-9)))


def _autocast(device: str, precision: str):
    import contextlib  # noqa: PLC0415

    import torch  # noqa: PLC0415

    from efficientdet_adapter.base.devices import engine_precision  # noqa: PLC0415

    dtype = engine_precision(precision, "torch")  # any spelling: fp16, 16-mixed...
    if dtype is not None:
        return torch.autocast(device_type=device.split(":")[0], dtype=dtype)
    return contextlib.nullcontext()


def _sync(device: str) -> None:
    import torch  # noqa: PLC0415

    if device.startswith("cuda"):
        torch.cuda.synchronize(device)


#: The most training steps ``measure_epoch_cost`` times (after a warm-up step).
MEASURED_STEPS = 8
#: Seconds of training steps after which the probe stops timing (at least two steps): the
#: probe only plans the first epoch, whose measured time then plans the rest (timings in
#: docs/benchmarks.md).
PROBE_SECONDS = 3.0
#: Validation batches the probe times (their mean, times the loader's length, is its estimate).
VALID_PROBE_BATCHES = 2


def measure_epoch_cost(model, train_dl, valid_dl, *, device: str = "cpu",
                       precision: str = "32", steps: int = MEASURED_STEPS,
                       seconds: float = PROBE_SECONDS, lr: float = 1e-4) -> EpochCost:
    """Time training steps (after one warm-up step) until ``seconds`` have passed or ``steps``
    were timed (at least two), up to `VALID_PROBE_BATCHES` validation batches (scaled to
    the whole loader) and two checkpoint writes, on a copy of ``model`` (left untouched). A
    loader shorter than the steps starts again from its first batch."""
    import torch  # noqa: PLC0415

    from efficientdet_adapter.loop.steps import loss_step, to_device, validation_step  # noqa: PLC0415

    dev = torch.device(device)
    probe = copy.deepcopy(model).to(dev).train()
    opt = torch.optim.AdamW(probe.parameters(), lr=lr)
    times: list[float] = []
    batches, warm = iter(train_dl), False
    while len(times) < steps and (len(times) < 2 or sum(times) < seconds):
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
        if warm:  # the first step warms allocators and kernels up: not counted
            times.append(time.perf_counter() - t0)
        warm = True
    valid_times: list[float] = []
    batches = iter(valid_dl)
    for _ in range(min(VALID_PROBE_BATCHES, len(valid_dl))):
        t0 = time.perf_counter()
        with _autocast(device, precision):
            validation_step(probe, next(batches))
        _sync(device)
        valid_times.append(time.perf_counter() - t0)
    valid_s = sum(valid_times) / max(1, len(valid_times)) * len(valid_dl)
    t0 = time.perf_counter()
    for _ in range(2):  # last.pt and (often) best.pt
        torch.save({k: v.detach().cpu() for k, v in probe.state_dict().items()}, io.BytesIO())  # noqa: TID251
    save_s = time.perf_counter() - t0
    return EpochCost(step_s=sum(times) / len(times), steps_per_epoch=len(train_dl),
                     valid_s=valid_s, save_s=save_s)


def plan_budget(budget_s: float, model, train_dl, valid_dl, *, started: float,
                max_epochs: int | None = None, device: str = "cpu", precision: str = "32"
                ) -> BudgetPlan:
    """Probe (`measure_epoch_cost`) and make the run's `BudgetClock`
    with its first plan for what is left of ``budget_s`` since ``started`` (a
    ``time.perf_counter()`` value); ``max_epochs`` caps the epochs (default
    `MAX_BUDGET_EPOCHS`)."""
    t0 = time.perf_counter()
    cost = measure_epoch_cost(model, train_dl, valid_dl, device=device, precision=precision)
    measure_s = time.perf_counter() - t0
    cap = MAX_BUDGET_EPOCHS if max_epochs is None else max_epochs
    clock = BudgetClock(budget_s=float(budget_s), steps_per_epoch=cost.steps_per_epoch,
                        max_steps=cap * cost.steps_per_epoch, reserve_s=0.0,
                        step_s=cost.step_s, overhead_s=cost.valid_s + cost.save_s,
                        started=started)
    clock.plan(step=0)
    uncapped = clock.steps_nearest(budget_s - clock.elapsed())
    capped = max_epochs is not None and uncapped > clock.max_steps
    return BudgetPlan(budget_s=float(budget_s), cost=cost, measure_s=measure_s, clock=clock,
                      capped_by=max_epochs if capped else None)


def apply_budget(opts: Any, model, train_dl, valid_dl, *, started: float, device: str = "cpu",
                 precision: str = "32") -> BudgetPlan:
    """`plan_budget` for ``opts.time`` seconds, capped by ``opts.epochs`` (plus
    ``opts.freeze_epochs``, which fastai's ``fine_tune`` trains first); prints what it measured
    and planned. ``opts.epochs`` stays the cap: the clock ends the run (see
    `budget_clock`)."""
    from efficientdet_adapter.base.errors import UsageError  # noqa: PLC0415
    from efficientdet_adapter.base.version_compat import import_fastai_quietly, lightning_package  # noqa: PLC0415

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
    print(plan.describe(), flush=True)
    return plan
