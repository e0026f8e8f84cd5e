"""The engine-agnostic run core: what fastai's and Lightning's run callbacks both do, written once.

Each engine's callbacks ([`fastai.callbacks`][efficientdet_adapter.engines.fastai.callbacks],
[`lightning.callbacks`][efficientdet_adapter.engines.lightning.callbacks]) are thin shells
that translate their engine's events into calls of these:

* [`WeightAverage`][efficientdet_adapter.engines.core.WeightAverage]: an exponential moving average
  of the weights (timm's ``ModelEmaV3``,
  warm-up on), swapped in for validation and saved in place of the raw weights.
* [`NonFiniteGuard`][efficientdet_adapter.engines.core.NonFiniteGuard]: a
  [`TrainingError`][efficientdet_adapter.base.errors.TrainingError] at the first
  NaN or infinite training loss, naming the epoch, the optimizer step, the batch of the epoch and
  the learning rate ([`non_finite_message`][efficientdet_adapter.engines.core.non_finite_message]),
  read without a host-device sync
  ([`StepValues`][efficientdet_adapter.loop.step_values.StepValues]).
* [`format_epoch_line`][efficientdet_adapter.engines.core.format_epoch_line] /
  [`print_epoch_line`][efficientdet_adapter.engines.core.print_epoch_line]: one printed line per
  epoch.
* [`RunRecorder`][efficientdet_adapter.engines.core.RunRecorder]: the run checkpoint logic around a
  fit: per-epoch seeding and timing,
  optimizer steps counted in the [`RunTracker`][efficientdet_adapter.training.state.RunTracker]
  (which
  writes ``best.pt``, ``last.pt``, ``metrics.csv`` and TensorBoard), the epoch's row.

A test-only hook: with ``EFFICIENTDET_ADAPTER_TEST_SIGNAL_AT_STEP=K[:KILL|INT|TERM]`` in the
environment, a run sends itself SIGKILL (or SIGINT, a Ctrl-C, or SIGTERM) right after optimizer
step ``K`` ([`signal_at_step`][efficientdet_adapter.engines.core.signal_at_step], from
`interrupts`), so
tests interrupt a run at a known step without waiting on a clock.

Example:
    >>> format_epoch_line({"epoch": 2, "train_loss": 1.5, "lr": 0.001, "best": True}, 10)
    'epoch 2/10  train_loss 1.5000  lr 1.00e-03  *best*'
"""

from __future__ import annotations

import math
import os
import sys
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from efficientdet_adapter.model.wrappers import find_network
from efficientdet_adapter.base.errors import TrainingError
from efficientdet_adapter.training.interrupts import (  # (re-exported here)
    SIGNAL_AT_STEP_ENV,
    STEP_SECONDS_ENV,
    signal_at_step,
)
from efficientdet_adapter.training.state import RunTracker, seed_epoch
from efficientdet_adapter.loop.step_values import StepValues
from efficientdet_adapter.loop.steps import LOSS_KEYS

__all__ = ["LOSSES", "SIGNAL_AT_STEP_ENV", "STEP_SECONDS_ENV", "freeze_bn_stats", "NonFiniteGuard",
           "RunRecorder", "StepPlace", "WeightAverage", "format_epoch_line", "non_finite_message", "print_epoch_line",
           "signal_at_step"]

#: The losses effdet's bench returns, as the epoch's row names them (``train_loss``...).
LOSSES = LOSS_KEYS  # the one tuple: the plain steps' (loop.steps)


# -- EMA ---------------------------------------------------------------------------------------
class WeightAverage:
    """timm's ``ModelEmaV3`` (warm-up on) of a model, made on first use.

    Args:
        decay: the EMA's decay once warmed up (timm's warm-up lowers it in early steps, so a
            short run's EMA is not stuck near the random initial weights).
    """

    def __init__(self, decay: float = 0.9998) -> None:
        self.decay = decay
        self.averaged: Any = None  # the ModelEmaV3
        self.updates = 0
        self._backup: dict[str, torch.Tensor] | None = None
        self._pending: dict[str, torch.Tensor] | None = None

    def ensure(self, model: nn.Module) -> Any:
        """The ``ModelEmaV3`` of ``model`` (made now if need be, with loaded weights put in)."""
        if self.averaged is None:
            from timm.utils import ModelEmaV3  # noqa: PLC0415

            self.averaged = ModelEmaV3(model, decay=self.decay, use_warmup=True)
        if self._pending is not None:
            find_network(self.averaged.module).load_state_dict(self._pending)
            self._pending = None
        return self.averaged

    @property
    def model(self) -> nn.Module:
        """The averaged model (the one to validate and save)."""
        return self.averaged.module

    def update(self, model: nn.Module) -> None:
        """Average in ``model``'s weights after an optimizer step."""
        self.updates += 1
        self.averaged.update(model, step=self.updates)

    def swap_in(self, model: nn.Module) -> None:
        """Put the averaged weights into ``model`` for validation (its own are kept aside)."""
        if self.averaged is None:
            return
        net = find_network(model)
        self._backup = {k: v.detach().clone() for k, v in net.state_dict().items()}
        net.load_state_dict(find_network(self.averaged.module).state_dict())

    def swap_out(self, model: nn.Module) -> None:
        """Give ``model`` back the weights
        [`swap_in`][efficientdet_adapter.engines.core.WeightAverage.swap_in] kept aside."""
        if self._backup is not None:
            find_network(model).load_state_dict(self._backup)
            self._backup = None

    def state_dict(self) -> dict[str, Any]:
        weights = {} if self.averaged is None else find_network(self.averaged.module).state_dict()
        return {"updates": self.updates, "weights": weights}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore `state_dict`; the weights go in now, or when the average is made."""
        self.updates = int(state["updates"])
        self._pending = state.get("weights") or None
        if self.averaged is not None and self._pending is not None:
            self.ensure(self.averaged.module)


# -- the non-finite loss guard -------------------------------------------------------------------
@dataclass(frozen=True)
class StepPlace:
    """Where a training loss was computed: 1-based ``epoch``, optimizer ``step`` of the run,
    ``batch`` of the epoch, and the learning rate (``None`` when there is no optimizer yet)."""

    epoch: int
    step: int
    batch: int
    lr: float | None


def non_finite_message(loss: float, place: StepPlace, tracker: RunTracker | None = None) -> str:
    """The error both engines raise for a NaN or infinite training loss."""
    kept = ""
    if tracker is not None and tracker.out is not None:
        done = tracker.state.epoch
        kept = (f"; {tracker.out / 'last.pt'} keeps epoch {done}" if done else
                "; no epoch finished, so no checkpoint was kept")
    lr = "?" if place.lr is None else f"{place.lr:.3g}"
    return (f"training loss is {loss} in epoch {place.epoch}, step {place.step} (batch "
            f"{place.batch} of the epoch) at learning rate {lr}{kept}; lower --lr, check the "
            "boxes of the data, or train with --precision 32")


class NonFiniteGuard:
    """Stop at a NaN or infinite training loss with a
    [`TrainingError`][efficientdet_adapter.base.errors.TrainingError]
    ([`non_finite_message`][efficientdet_adapter.engines.core.non_finite_message]).

    On the CPU the loss is checked as soon as it is pushed, before it reaches the weights. On a
    GPU it is checked without a host-device sync
    ([`StepValues`][efficientdet_adapter.loop.step_values.StepValues]): the error
    may come one or a few steps later (it still names the step whose loss was not finite), and
    at the latest when the engine calls
    [`check_pending`][efficientdet_adapter.engines.core.NonFiniteGuard.check_pending] (end of the
    epoch's training,
    before validation) or the tracker is about to write ``last.pt`` or ``best.pt``
    ([`RunTracker.check_before_save`][efficientdet_adapter.training.state.RunTracker.check_before_save]), so weights trained after a NaN are never kept.
    """

    def __init__(self, tracker: RunTracker | None = None, *,
                 values: StepValues | None = None) -> None:
        self.tracker = tracker
        self.values = values if values is not None else StepValues()
        if tracker is not None:
            tracker.check_before_save(self.check_pending)

    def clear(self) -> None:
        """A new fit starts: drop what is pending."""
        self.values.clear()

    def push(self, loss: Any, place: StepPlace) -> None:
        """Queue the training loss of ``place`` and check the losses that reached the host."""
        self._check(self.values.push({"loss": loss}, place))

    def check_pending(self) -> None:
        """Wait for the losses still on their way to the host and check them."""
        self._check(self.values.flush())

    def _check(self, entries: Iterable[tuple[StepPlace, dict[str, float]]]) -> None:
        for place, values in entries:
            if not math.isfinite(values["loss"]):
                self.values.clear()
                raise TrainingError(non_finite_message(values["loss"], place, self.tracker))


# -- the epoch line --------------------------------------------------------------------------------
def format_epoch_line(row: dict[str, Any], total: int | None) -> str:
    """``epoch 2/10  train_loss 1.234  valid_loss 1.100  AP 0.0123  AP50 0.0456  lr 1.2e-03
    3.1 s  *best*`` (keys that are missing or ``None`` are left out)."""
    parts = [f"epoch {row['epoch']}" + (f"/{total}" if total else "")]
    for key, name in (("train_loss", "train_loss"), ("valid_loss", "valid_loss"),
                      ("AP (IoU=0.50:0.95) area=all", "AP"), ("AP (IoU=0.50) area=all", "AP50")):
        if row.get(key) is not None:
            parts.append(f"{name} {row[key]:.4f}")
    if row.get("lr") is not None:
        parts.append(f"lr {row['lr']:.2e}")
    if row.get("seconds") is not None:
        parts.append(f"{row['seconds']:.1f} s")
    if row.get("best"):
        parts.append("*best*")
    return "  ".join(parts)


def print_epoch_line(row: dict[str, Any] | None, total: int | None, file: Any = None) -> None:
    """Print [`format_epoch_line`][efficientdet_adapter.engines.core.format_epoch_line] of ``row``
    (nothing when ``row`` is ``None``)."""
    if row is not None:
        print(format_epoch_line(row, total), file=file or sys.stdout, flush=True)


# -- frozen BatchNorm statistics --------------------------------------------------------------------
def freeze_bn_stats(model: nn.Module) -> int:
    """Put every BatchNorm layer of ``model`` in eval mode (``train --freeze-bn``): training then
    normalizes with the running statistics the weights came with and leaves them as they are;
    the layers' scale and shift still learn. Call it after each ``model.train()``; returns the
    number of layers.

    Example:
        >>> net = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4)).train()
        >>> freeze_bn_stats(net), net[1].training, net[0].training
        (1, False, True)
    """
    layers = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    for layer in layers:
        layer.eval()
    return len(layers)


# -- the run checkpoint ----------------------------------------------------------------------------
class RunRecorder:
    """The run checkpoint logic of both engines' run callbacks.

    The engine's callback calls `start_fit`, `seed` and `start_epoch`,
    [`count_step`][efficientdet_adapter.engines.core.RunRecorder.count_step] after each optimizer
    step, and [`end_epoch`][efficientdet_adapter.engines.core.RunRecorder.end_epoch] with the
    epoch's row (its
    losses and metrics) once validated;
    [`end_epoch`][efficientdet_adapter.engines.core.RunRecorder.end_epoch] adds the learning rate
    and the seconds,
    has the tracker write the run's files, keeps `last_row` for the epoch line and says
    whether to stop (early stopping or ``--time``).

    Args:
        tracker: where the run's state and files live.
        seed: with ``seed``, every training epoch starts from generators seeded by
            ``(seed, epoch)`` (the training transform's own generator too).
    """

    def __init__(self, tracker: RunTracker, seed: int | None = None) -> None:
        self.tracker, self.seed = tracker, seed
        self.last_row: dict[str, Any] | None = None
        self._t0 = time.perf_counter()
        self._signal = os.environ.get(SIGNAL_AT_STEP_ENV)
        self._sleep = float(os.environ.get(STEP_SECONDS_ENV) or 0)

    def seed_epoch(self, epoch: int, dataset: Any = None) -> bool:
        """Seed the generators for the run's 0-based ``epoch``; whether there was a seed."""
        if self.seed is None:
            return False
        seed_epoch(self.seed, epoch, dataset)
        return True

    def start_epoch(self) -> None:
        self._t0 = time.perf_counter()

    def count_step(self) -> int:
        """Count an optimizer step (the TensorBoard log opens at the first); the run's steps."""
        self.tracker.step()
        self.tracker.tensorboard_log()  # opened at the first step (its purge_step)
        step = self.tracker.state.step
        if self._sleep:
            time.sleep(self._sleep)
        if self._signal:
            signal_at_step(step, self._signal)
        return step

    def end_epoch(self, model: nn.Module, row: dict[str, Any], train_state: dict[str, Any],
                  lr: float | None) -> bool:
        """Close a validated epoch (see the class docstring); returns whether to stop."""
        row = {**row, "lr": lr, "seconds": round(time.perf_counter() - self._t0, 3)}
        stop = self.tracker.end_epoch(model, row, train_state)
        st = self.tracker.state
        self.last_row = {"epoch": st.epoch, **row, "best": st.best_epoch == st.epoch}
        return stop

    def total_epochs(self, planned: int | None) -> int | None:
        """The run's epochs for the epoch lines: the ``--time`` clock's current plan, or
        ``planned``."""
        budget = self.tracker.budget
        return budget.epochs if budget is not None else planned

    def close(self) -> None:
        """The fit ended: flush and close the TensorBoard log."""
        self.tracker.close()
