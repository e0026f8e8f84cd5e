"""fastai callbacks of a training run; ``efficientdet-adapter train`` uses exactly these.

* :class:`RunCallback`: per-epoch seeding, the epoch's losses and COCO metrics, ``best.pt`` /
  ``last.pt`` / ``metrics.csv`` through a :class:`~.state.RunTracker`, early stopping, and
  skipping the epochs a resumed run already has.
* :class:`EMACallback`: an exponential moving average of the weights (timm's ``ModelEmaV3``),
  validated and saved in place of the raw weights.
* :class:`NonFiniteLossCallback`: stops at the first NaN or infinite loss with a
  :class:`~efficientdet_adapter.errors.TrainingError` naming the epoch, step and learning rate.

No callback reads a loss on the host while a step runs: on a GPU the losses reach the host
through :class:`~.step_values.StepValues` (non-blocking copies read when ready, all of them at
the end of an epoch), so the CPU never waits for the GPU within an epoch.
* :class:`EpochLineCallback`: one printed line per epoch (for logs, where a progress bar's
  carriage returns are noise).

Example:
    >>> tracker = RunTracker("runs/x", class_map, patience=3)                      # doctest: +SKIP
    >>> ema = EMACallback(decay=0.9998)                                            # doctest: +SKIP
    >>> learn = efficientdet.fastai.learner([train_dl, valid_dl], model, metrics=[COCOMetric()],
    ...     cbs=[RunCallback(tracker, ema=ema), ema, NonFiniteLossCallback(tracker)])  # doctest: +SKIP
    >>> learn.fit_one_cycle(20, 1e-3)   # best.pt, last.pt, metrics.csv in runs/x       # doctest: +SKIP
"""

from __future__ import annotations

import math
import sys
import time
from pathlib import Path
from typing import Any

import torch

from ..version_compat import import_fastai_quietly

try:
    import_fastai_quietly()
    from fastai.callback.core import Callback, CancelEpochException, CancelFitException
except ImportError as e:  # pragma: no cover - exercised only without the extra installed
    raise ImportError("efficientdet_adapter.training.fastai_callbacks needs fastai: "
                      "pip install 'efficientdet_adapter[fastai]'") from e

from ..efficientdet.wrappers import find_network as _network
from ..errors import TrainingError
from .state import RunTracker, rng_state, seed_epoch, set_rng_state
from .step_values import StepValues

__all__ = ["RunCallback", "EMACallback", "NonFiniteLossCallback", "EpochLineCallback",
           "fastai_train_state", "load_fastai_train_state"]

LOSSES = ("loss", "class_loss", "box_loss")


def _lr(learn) -> float | None:
    opt = getattr(learn, "opt", None)
    if opt is None or not len(opt.hypers):
        return None
    return float(opt.hypers[-1].get("lr", float("nan")))


def _coco_result(learn) -> dict[str, float]:
    from ..efficientdet.fastai import MetricColumn

    out: dict[str, float] = {}
    for m in learn.metrics:
        if isinstance(m, MetricColumn) and m.owner:
            out.update({k: float(v) for k, v in m.shared.result().items()})
    return out


class EMACallback(Callback):
    """Keep an EMA of the model's weights (timm's ``ModelEmaV3``, warm-up on), validate it, and
    hand it to :class:`RunCallback` as the model to save.

    Args:
        decay: the EMA's decay once warmed up (timm's warm-up lowers it in early steps, so a
            short run's EMA is not stuck near the random initial weights).
    """

    order = 15  # after the optimizer step bookkeeping; before RunCallback (60)

    def __init__(self, decay: float = 0.9998) -> None:
        self.decay = decay
        # not `self.ema`: the learner's `ema` is this callback, and fastai 2.7 warns when a
        # callback sets an attribute of a name the learner has
        self.averaged = None
        self.updates = 0
        self._backup: dict[str, torch.Tensor] | None = None

    def _ensure(self) -> None:
        if self.averaged is None:
            from timm.utils import ModelEmaV3

            self.averaged = ModelEmaV3(self.learn.model, decay=self.decay, use_warmup=True)

    def before_fit(self) -> None:
        self._ensure()

    @property
    def model(self):
        self._ensure()
        return self.averaged.module

    def after_step(self) -> None:
        self.updates += 1
        self.averaged.update(self.learn.model, step=self.updates)

    def before_validate(self) -> None:
        net = _network(self.learn.model)
        self._backup = {k: v.detach().clone() for k, v in net.state_dict().items()}
        net.load_state_dict(_network(self.averaged.module).state_dict())

    def after_validate(self) -> None:
        if self._backup is not None:
            _network(self.learn.model).load_state_dict(self._backup)
            self._backup = None

    def state_dict(self) -> dict[str, Any]:
        return {"updates": self.updates, "weights": _network(self.model).state_dict()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.updates = int(state["updates"])
        _network(self.model).load_state_dict(state["weights"])


class NonFiniteLossCallback(Callback):
    """Stop at a NaN or infinite training loss with a :class:`TrainingError` naming the epoch,
    the optimizer step and the learning rate of that loss.

    On the CPU the loss is checked as soon as it is computed, before it reaches the weights. On
    a GPU it is checked without a host-device sync (see :class:`~.step_values.StepValues`): the
    error may come one or a few steps later (it still names the step whose loss was not
    finite), and at the latest at the end of the epoch's training, before validation and before
    the :class:`~.state.RunTracker` writes ``last.pt`` or ``best.pt``, so weights trained after
    a NaN are never kept.
    """

    order = 1

    def __init__(self, tracker: RunTracker | None = None, *,
                 values: StepValues | None = None) -> None:
        self.tracker = tracker
        self.values = values if values is not None else StepValues()
        if tracker is not None:
            tracker.check_before_save(self.check_pending)

    def before_fit(self) -> None:
        self.values.clear()

    def after_loss(self) -> None:
        if not self.training:
            return
        st = self.tracker.state if self.tracker is not None else None
        epoch = st.epoch + 1 if st is not None else int(self.epoch) + 1
        step = st.step + 1 if st is not None else int(self.learn.train_iter) + 1
        where = (epoch, step, self.learn.iter + 1, _lr(self.learn))
        self._check(self.values.push({"loss": self.learn.loss}, where))

    def after_train(self) -> None:
        self.check_pending()

    def check_pending(self) -> None:
        """Wait for the losses still on their way to the host and check them."""
        self._check(self.values.flush())

    def _check(self, entries) -> None:
        for (epoch, step, batch, lr), values in entries:
            if not math.isfinite(values["loss"]):
                self.values.clear()
                self._fail(values["loss"], epoch, step, batch, lr)

    def _fail(self, loss: float, epoch: int, step: int, batch: int, lr: float | None) -> None:
        st = self.tracker.state if self.tracker is not None else None
        kept = ""
        if self.tracker is not None and self.tracker.out is not None:
            kept = (f"; {self.tracker.out / 'last.pt'} keeps epoch {st.epoch}" if st.epoch else
                    "; no epoch finished, so no checkpoint was kept")
        raise TrainingError(
            f"training loss is {loss} in epoch {epoch}, step {step} (batch {batch} "
            f"of the epoch) at learning rate {lr:.3g}{kept}; lower --lr, check the "
            "boxes of the data, or train with --precision 32")


class EpochLineCallback(Callback):
    """Print one line per finished epoch: losses, AP, AP50, learning rate, seconds."""

    order = 70  # after RunCallback has the row

    def __init__(self, run: RunCallback, file: Any = None) -> None:
        self.source, self.file = run, file  # not "run": fastai's Learner has an attribute so named

    def after_epoch(self) -> None:
        row = self.source.last_row
        if row is None or self.source.skipped:
            return
        print(format_epoch_line(row, self.source.total_epochs), file=self.file or sys.stdout,
              flush=True)


def format_epoch_line(row: dict[str, Any], total: int | None) -> str:
    """``epoch 2/10  train_loss 1.234  valid_loss 1.100  AP 0.0123  AP50 0.0456  lr 1.2e-03
    3.1 s  *best*``; used by both engines' line printers."""
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


class RunCallback(Callback):
    """The run's bookkeeping around fastai's fit (see the module docstring).

    Args:
        tracker: where the run's state and files live.
        seed: with ``seed_epoch``, every training epoch starts from generators seeded by
            ``(seed, epoch)`` (and the training transform's own generator too).
        ema: the :class:`EMACallback` whose model is validated and saved, if any.
        epoch_offset: the run's epoch index of this fit's epoch 0 (the second phase of
            ``fine_tune`` starts at ``freeze_epochs``).
        total_epochs: shown in printed lines.
        history: something with ``add_step(loss)`` and ``add_epoch(row)`` (``runs.History``).
    """

    order = 60  # after fastai's Recorder (50) has finalized the metrics

    def __init__(self, tracker: RunTracker, *, seed: int | None = None,
                 ema: EMACallback | None = None, epoch_offset: int = 0,
                 total_epochs: int | None = None, history: Any = None,
                 resume_rng: dict[str, Any] | None = None) -> None:
        # not `self.ema`: the learner has an `ema` attribute, the EMACallback itself, which
        # fastai 2.7 warns that a callback attribute of that name would shadow
        self.tracker, self.seed, self.ema_callback = tracker, seed, ema
        self.epoch_offset, self.total_epochs, self.history = epoch_offset, total_epochs, history
        self.resume_rng = resume_rng
        self.last_row: dict[str, Any] | None = None
        self.skipped = False
        self.values = StepValues()
        self._tb_step: int | None = None

    @property
    def name(self) -> str:
        """``learn.run_tracker``: fastai would name it ``run``, which every callback's own
        ``run`` switch then shadows (a warning at each fit's end)."""
        return "run_tracker"

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
        self._t0 = time.perf_counter()
        self._sums = {f"{p}_{k}": 0.0 for p in ("train", "valid") for k in LOSSES}
        self._counts = {"train": 0, "valid": 0}

    def before_train(self) -> None:
        if self.seed is not None:
            seed_epoch(self.seed, self.run_epoch, getattr(self.dls.train, "dataset", None))
        elif self.resume_rng is not None:
            set_rng_state(self.resume_rng)
        self.resume_rng = None

    def before_batch(self) -> None:
        self._tb_step = None

    def after_step(self) -> None:
        self.tracker.step()
        self.tracker.tensorboard_log()  # opened at the first step, as before (its purge_step)
        self._tb_step = self.tracker.state.step

    def after_fit(self) -> None:
        self._use(self.values.flush())
        self.tracker.close()  # the TensorBoard log: flushed and closed

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
        add_step = self.training and self.history is not None and isinstance(pred, dict)
        self._use(self.values.push(tensors, (part, n, add_step, self._tb_step)))
        self._tb_step = None

    def _use(self, entries) -> None:
        for (part, n, add_step, tb_step), values in entries:
            if n is not None:
                for k in LOSSES:
                    if k in values:
                        self._sums[f"{part}_{k}"] += values[k] * n
                self._counts[part] += n
            if add_step:
                self.history.add_step(values["step_loss"])
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
        row["lr"] = _lr(self.learn)
        row["seconds"] = round(time.perf_counter() - self._t0, 3)
        ema = self.ema_callback
        model = ema.model if ema is not None else self.learn.model
        stop = self.tracker.end_epoch(model, row, fastai_train_state(self.learn, ema,
                                                                     self.history))
        self.last_row = {"epoch": self.tracker.state.epoch, **row,
                         "best": self.tracker.state.best_epoch == self.tracker.state.epoch}
        if self.history is not None:
            # fastai's column names too, as metrics.json had them before metrics.csv
            named = {name: row.get(key) for name, key in (
                ("COCOMetric", "AP (IoU=0.50:0.95) area=all"), ("AP50", "AP (IoU=0.50) area=all"))}
            self.history.add_epoch({"epoch": self.tracker.state.epoch, **named, **row})
        self._stop = stop


def fastai_train_state(learn, ema: EMACallback | None = None, history: Any = None
                       ) -> dict[str, Any]:
    """What resuming a fastai fit needs besides the weights saved beside it, as plain data."""
    opt = learn.opt
    state: dict[str, Any] = {"engine": "fastai", "rng": rng_state()}
    if opt is not None:
        sd = opt.state_dict()
        state["opt"] = {"state": [dict(s) for s in sd["state"]],
                        "hypers": [dict(h) for h in sd["hypers"]]}
    if ema is not None:
        state["ema"] = ema.state_dict()
        state["model"] = _network(learn.model).state_dict()  # the raw weights: saved is the EMA
    if history is not None:
        state["history_steps"] = list(history.steps)
    return state


def load_fastai_train_state(learn, state: dict[str, Any], weights: dict[str, torch.Tensor],
                            ema: EMACallback | None = None, path: str | Path = "last.pt") -> None:
    """Put a :func:`fastai_train_state` back: raw weights, optimizer (created here and checked
    against the state first, see :func:`~.resume_check.check_fastai_optimizer`), EMA."""
    from fastcore.foundation import L

    _network(learn.model).load_state_dict(state.get("model", weights))
    if learn.opt is None:
        learn.create_opt()
    if "opt" in state:
        from .resume_check import check_fastai_optimizer

        check_fastai_optimizer(learn, state, path)
        learn.opt.load_state_dict({"state": state["opt"]["state"],
                                   "hypers": L(state["opt"]["hypers"])})
    if ema is not None and "ema" in state:
        ema.load_state_dict(state["ema"])
