"""fastai callbacks of a training run, thin shells over the run core
([`core`][efficientdet_adapter.engines.core]);
``efficientdet-adapter train`` uses exactly these (the Lightning twins are in
[`lightning.callbacks`][efficientdet_adapter.engines.lightning.callbacks]).

* [`RunCallback`][efficientdet_adapter.engines.fastai.callbacks.RunCallback]: per-epoch seeding, the
  epoch's losses and COCO metrics, ``best.pt`` /
  ``last.pt`` / ``metrics.csv`` through a
  [`RunTracker`][efficientdet_adapter.training.state.RunTracker],
  early stopping, and skipping the epochs a resumed run already has.
* [`EMACallback`][efficientdet_adapter.engines.fastai.callbacks.EMACallback]: an exponential moving
  average of the weights
  ([`WeightAverage`][efficientdet_adapter.engines.core.WeightAverage]), validated and saved in place
  of the raw weights.
* [`NonFiniteLossCallback`][efficientdet_adapter.engines.fastai.callbacks.NonFiniteLossCallback]:
  stops at the first NaN or infinite loss
  ([`NonFiniteGuard`][efficientdet_adapter.engines.core.NonFiniteGuard]).
* [`EpochLineCallback`][efficientdet_adapter.engines.fastai.callbacks.EpochLineCallback]: one
  printed line per epoch (for logs, where a progress bar's
  carriage returns are noise).

No callback reads a loss on the host while a step runs: on a GPU the losses reach the host
through [`StepValues`][efficientdet_adapter.loop.step_values.StepValues] (non-blocking copies
read when ready, all of them at
the end of an epoch), so the CPU never waits for the GPU within an epoch.

Example:
    >>> tracker = RunTracker("runs/x", class_map, patience=3)                      # doctest: +SKIP
    >>> ema = EMACallback(decay=0.9998)                                            # doctest: +SKIP
    >>> learn = efficientdet.fastai.learner([train_dl, valid_dl], model, metrics=[COCOMetric()],
    ...     cbs=[RunCallback(tracker, ema=ema), ema, NonFiniteLossCallback(tracker)])  # doctest: +SKIP
    >>> learn.fit_one_cycle(20, 1e-3)   # best.pt, last.pt, metrics.csv in runs/x       # doctest: +SKIP
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from efficientdet_adapter.base.version_compat import import_fastai_quietly

try:
    import_fastai_quietly()
    from fastai.callback.core import Callback, CancelEpochException, CancelFitException
except ImportError as e:  # pragma: no cover - exercised only without the extra installed
    raise ImportError("efficientdet_adapter.engines.fastai.callbacks needs fastai: "
                      "pip install 'efficientdet_adapter[fastai]'") from e

from efficientdet_adapter.model.wrappers import find_network
from efficientdet_adapter.training.state import RunTracker, rng_state, set_rng_state
from efficientdet_adapter.engines.core import (LOSSES, NonFiniteGuard, RunRecorder, StepPlace, WeightAverage,
                    freeze_bn_stats, print_epoch_line)
from efficientdet_adapter.loop.step_values import StepValues
from efficientdet_adapter.engines.fastai.learn import MetricColumn

__all__ = ["RunCallback", "EMACallback", "NonFiniteLossCallback", "EpochLineCallback",
           "FreezeBNStatsCallback",
           "fastai_train_state", "load_fastai_train_state"]


def _lr(learn) -> float | None:
    opt = getattr(learn, "opt", None)
    if opt is None or not len(opt.hypers):
        return None
    return float(opt.hypers[-1].get("lr", float("nan")))


def _coco_result(learn) -> dict[str, float]:
    out: dict[str, float] = {}
    for m in learn.metrics:
        if isinstance(m, MetricColumn) and m.owner:
            out.update({k: float(v) for k, v in m.shared.result().items()})
    return out


class EMACallback(Callback):
    """Keep an EMA of the model's weights
    ([`WeightAverage`][efficientdet_adapter.engines.core.WeightAverage]), validate it, and
    hand it to [`RunCallback`][efficientdet_adapter.engines.fastai.callbacks.RunCallback] as the
    model to save.

    Args:
        decay: the EMA's decay once warmed up.
    """

    order = 15  # after the optimizer step bookkeeping; before RunCallback (60)

    def __init__(self, decay: float = 0.9998) -> None:
        # the learner's `ema` is this callback: no attribute of that name here (fastai warns)
        self.average = WeightAverage(decay)

    @property
    def decay(self) -> float:
        return self.average.decay

    @property
    def averaged(self) -> Any:
        """timm's ``ModelEmaV3`` (``None`` before the first fit)."""
        return self.average.averaged

    @property
    def updates(self) -> int:
        return self.average.updates

    @property
    def model(self):
        return self.average.ensure(self.learn.model).module

    def before_fit(self) -> None:
        self.average.ensure(self.learn.model)

    def after_step(self) -> None:
        self.average.update(self.learn.model)

    def before_validate(self) -> None:
        self.average.swap_in(self.learn.model)

    def after_validate(self) -> None:
        self.average.swap_out(self.learn.model)

    def state_dict(self) -> dict[str, Any]:
        return self.average.state_dict()

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.average.load_state_dict(state)


class NonFiniteLossCallback(Callback):
    """Stop at a NaN or infinite training loss with a
    [`TrainingError`][efficientdet_adapter.base.errors.TrainingError] naming the epoch, the optimizer
    step, the
    batch and the learning rate of that loss (see
    [`NonFiniteGuard`][efficientdet_adapter.engines.core.NonFiniteGuard])."""

    order = 1

    def __init__(self, tracker: RunTracker | None = None, *,
                 values: StepValues | None = None) -> None:
        self.guard = NonFiniteGuard(tracker, values=values)

    @property
    def values(self) -> StepValues:
        """The guard's queue of losses on their way to the host."""
        return self.guard.values

    @values.setter
    def values(self, values: StepValues) -> None:
        self.guard.values = values

    def before_fit(self) -> None:
        self.guard.clear()

    def after_loss(self) -> None:
        if not self.training:
            return
        tracker = self.guard.tracker
        st = tracker.state if tracker is not None else None
        epoch = st.epoch + 1 if st is not None else int(self.epoch) + 1
        step = st.step + 1 if st is not None else int(self.learn.train_iter) + 1
        self.guard.push(self.learn.loss, StepPlace(epoch, step, self.learn.iter + 1,
                                                   _lr(self.learn)))

    def after_train(self) -> None:
        self.guard.check_pending()

    def check_pending(self) -> None:
        """Wait for the losses still on their way to the host and check them."""
        self.guard.check_pending()


class FreezeBNStatsCallback(Callback):
    """Keep BatchNorm's running statistics as loaded
    ([`freeze_bn_stats`][efficientdet_adapter.engines.core.freeze_bn_stats])."""

    order = 0  # after fastai's TrainEvalCallback (-10) has called model.train()

    def before_train(self) -> None:
        freeze_bn_stats(self.learn.model)


class EpochLineCallback(Callback):
    """Print one line per finished epoch: losses, AP, AP50, learning rate, seconds."""

    order = 70  # after RunCallback has the row

    def __init__(self, run: RunCallback, file: Any = None) -> None:
        self.source, self.file = run, file  # not "run": fastai's Learner has an attribute so named

    def after_epoch(self) -> None:
        if not self.source.skipped:
            print_epoch_line(self.source.last_row,
                             self.source.recorder.total_epochs(self.source.total_epochs),
                             self.file)


class RunCallback(Callback):
    """The run's bookkeeping around fastai's fit (see the module docstring and
    [`RunRecorder`][efficientdet_adapter.engines.core.RunRecorder]).

    Args:
        tracker: where the run's state and files live.
        seed: with ``seed``, every training epoch starts from generators seeded by
            ``(seed, epoch)`` (and the training transform's own generator too).
        ema: the [`EMACallback`][efficientdet_adapter.engines.fastai.callbacks.EMACallback] whose
            model is validated and saved, if any.
        epoch_offset: the run's epoch index of this fit's epoch 0 (the second phase of
            ``fine_tune`` starts at ``freeze_epochs``).
        total_epochs: shown in printed lines.
        resume_rng: the generators' states to start from when there is no ``seed``.
    """

    order = 60  # after fastai's Recorder (50) has finalized the metrics

    def __init__(self, tracker: RunTracker, *, seed: int | None = None,
                 ema: EMACallback | None = None, epoch_offset: int = 0,
                 total_epochs: int | None = None,
                 resume_rng: dict[str, Any] | None = None) -> None:
        # not `self.ema`: the learner has an `ema` attribute, the EMACallback itself, which
        # fastai 2.7 warns that a callback attribute of that name would shadow
        self.recorder = RunRecorder(tracker, seed)
        self.tracker, self.seed, self.ema_callback = tracker, seed, ema
        self.epoch_offset, self.total_epochs = epoch_offset, total_epochs
        self.resume_rng = resume_rng
        self.skipped = False
        self.values = StepValues()
        self._tb_step: int | None = None

    @property
    def name(self) -> str:
        """``learn.run_tracker``: fastai would name it ``run``, which every callback's own
        ``run`` switch then shadows (a warning at each fit's end)."""
        return "run_tracker"

    @property
    def last_row(self) -> dict[str, Any] | None:
        """The last finished epoch's row, as printed
        ([`format_epoch_line`][efficientdet_adapter.engines.core.format_epoch_line])."""
        return self.recorder.last_row

    @property
    def run_epoch(self) -> int:
        """The run's 0-based index of the current epoch."""
        return self.epoch_offset + int(self.epoch)

    def before_fit(self) -> None:
        self._stop = False
        self.values.clear()

    def before_epoch(self) -> None:
        if self._stop:  # raised here, not in after_epoch, so later callbacks see that epoch end
            raise CancelFitException
        self.skipped = self.run_epoch < self.tracker.state.epoch
        if self.skipped:  # done before the run was interrupted: resumed past it
            raise CancelEpochException
        self.recorder.start_epoch()
        self._sums = {f"{p}_{k}": 0.0 for p in ("train", "valid") for k in LOSSES}
        self._counts = {"train": 0, "valid": 0}

    def before_train(self) -> None:
        seeded = self.recorder.seed_epoch(self.run_epoch, getattr(self.dls.train, "dataset", None))
        if not seeded and self.resume_rng is not None:
            set_rng_state(self.resume_rng)
        self.resume_rng = None

    def before_batch(self) -> None:
        self._tb_step = None

    def after_step(self) -> None:
        self._tb_step = self.recorder.count_step()

    def after_fit(self) -> None:
        self._use(self.values.flush())
        self.recorder.close()

    def after_batch(self) -> None:
        # the batch's numbers go to the host without a sync; _use takes them, in order, once
        # they are there (at once on the CPU)
        pred = self.learn.pred
        tensors: dict[str, Any] = {}
        if isinstance(pred, dict):
            tensors.update({k: pred[k] for k in LOSSES if k in pred})
        if self.training:
            tensors["step_loss"] = self.learn.loss
        if not tensors:
            return
        part = "train" if self.training else "valid"
        n = len(self.learn.yb) if isinstance(pred, dict) else None
        self._use(self.values.push(tensors, (part, n, self._tb_step)))
        self._tb_step = None

    def _use(self, entries) -> None:
        for (part, n, tb_step), values in entries:
            if n is not None:
                for k in LOSSES:
                    if k in values:
                        self._sums[f"{part}_{k}"] += values[k] * n
                self._counts[part] += n
            if tb_step is not None:
                self.tracker.log_step_loss(values["step_loss"], tb_step)

    def after_epoch(self) -> None:
        self._use(self.values.flush())  # every number of the epoch, before its row is made
        if self.skipped:
            return
        row: dict[str, Any] = {}
        for key, total in self._sums.items():
            n = self._counts[key.split("_", 1)[0]]
            row[key] = total / n if n else None
        row.update(_coco_result(self.learn))
        ema = self.ema_callback
        model = ema.model if ema is not None else self.learn.model
        self._stop = self.recorder.end_epoch(model, row, fastai_train_state(self.learn, ema),
                                             _lr(self.learn))


def fastai_train_state(learn, ema: EMACallback | None = None) -> dict[str, Any]:
    """What resuming a fastai fit needs besides the weights saved beside it, as plain data."""
    opt = learn.opt
    state: dict[str, Any] = {"engine": "fastai", "rng": rng_state()}
    if opt is not None:
        sd = opt.state_dict()
        state["opt"] = {"state": [dict(s) for s in sd["state"]],
                        "hypers": [dict(h) for h in sd["hypers"]]}
    if ema is not None:
        state["ema"] = ema.state_dict()
        state["model"] = find_network(learn.model).state_dict()  # raw weights: saved is the EMA
    return state


def load_fastai_train_state(learn, state: dict[str, Any], weights: dict[str, torch.Tensor],
                            ema: EMACallback | None = None, path: str | Path = "last.pt") -> None:
    """Put a
    [`fastai_train_state`][efficientdet_adapter.engines.fastai.callbacks.fastai_train_state] back:
    raw weights, optimizer (created here and checked
    against the state first, see
    `check_fastai_optimizer`), EMA."""
    from fastcore.foundation import L  # noqa: PLC0415

    find_network(learn.model).load_state_dict(state.get("model", weights))
    if learn.opt is None:
        learn.create_opt()
    if "opt" in state:
        from efficientdet_adapter.training.resume_check import check_fastai_optimizer  # noqa: PLC0415

        check_fastai_optimizer(learn, state, path)
        learn.opt.load_state_dict({"state": state["opt"]["state"],
                                   "hypers": L(state["opt"]["hypers"])})
    if ema is not None and "ema" in state:
        ema.load_state_dict(state["ema"])
