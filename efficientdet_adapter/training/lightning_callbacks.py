"""Lightning callbacks of a training run; ``efficientdet-adapter train --engine lightning`` uses
exactly these (the fastai twins are in :mod:`.fastai_callbacks`).

* :class:`RunCheckpoint`: per-epoch seeding, the epoch's losses and COCO metrics, ``best.pt`` /
  ``last.pt`` / ``metrics.csv`` through a :class:`~.state.RunTracker` (only the global rank 0
  writes; under DDP every rank holds the same metric, see ``COCOMetric``), early stopping
  (``trainer.should_stop``), and in ``last.pt`` Lightning's own checkpoint dict for resuming.
  The sanity-check validation never counts.
* :class:`LightningEMA`: timm's ``ModelEmaV3`` of the weights, validated and saved.
* :class:`NonFiniteLoss`: a :class:`~efficientdet_adapter.errors.TrainingError` at the first NaN
  or infinite training loss, naming the epoch, step and learning rate.
* :class:`EpochLine`: one printed line per epoch.

As in :mod:`.fastai_callbacks`, no callback reads a loss on the host while a step runs: on a GPU
the losses come through :class:`~.step_values.StepValues`.

Example:
    >>> tracker = RunTracker("runs/x", class_map, patience=3)                     # doctest: +SKIP
    >>> ema = LightningEMA()                                                      # doctest: +SKIP
    >>> pl.Trainer(max_epochs=20, callbacks=[RunCheckpoint(tracker, ema=ema), ema,
    ...            NonFiniteLoss(tracker)]).fit(light, train_dl, valid_dl)       # doctest: +SKIP
"""

from __future__ import annotations

import math
import sys
import time
from collections.abc import Sequence
from typing import Any

import torch


from ..efficientdet.wrappers import find_network as _network
from ..weights.state_dict import check_plain as _check_plain
from ..errors import CheckpointError, TrainingError
from ..version_compat import lightning_package
from .fastai_callbacks import format_epoch_line
from .state import RunTracker, rng_state, seed_epoch
from .step_values import StepValues

#: The Lightning package these callbacks are built on (``pytorch_lightning`` or
#: ``lightning.pytorch``, see :func:`~efficientdet_adapter.version_compat.lightning_package`): use
#: its ``Trainer`` and :func:`~efficientdet_adapter.efficientdet.lightning.model_adapter_class`.
pl = lightning_package("efficientdet_adapter.training.lightning_callbacks")

__all__ = ["RunCheckpoint", "LightningEMA", "NonFiniteLoss", "EpochLine", "lightning_row"]

_RENAME = {"val_": "valid_"}


def _lr(trainer) -> float | None:
    opts = trainer.optimizers
    return float(opts[0].param_groups[0]["lr"]) if opts else None


def _icevision_alias(key: str, aliases: Sequence[str]) -> bool:
    """A key the adapter logs again under IceVision's name (``valid/loss``, ``COCOMetric``...)."""
    return key in aliases or key.startswith(("train/", "valid/", "test/"))


def lightning_row(metrics: dict[str, Any], aliases: Sequence[str] = ()) -> dict[str, Any]:
    """``trainer.callback_metrics`` as a ``metrics.csv`` row: epoch values only, ``val_*`` as
    ``valid_*`` and the ``COCOMetric/`` prefix dropped (the columns of the fastai engine).
    IceVision's names for the same values (``train/loss``, ``valid/loss`` and the ``aliases``,
    e.g. ``COCOMetric``) are left out."""
    row: dict[str, Any] = {}
    for key, value in metrics.items():
        if key.endswith("_step") or _icevision_alias(key, aliases):
            continue
        key = key.removesuffix("_epoch")
        if key.startswith("val_"):
            key = "valid_" + key[4:]
        key = key.split("/", 1)[1] if "/" in key else key
        row[key] = float(value)
    return row


class LightningEMA(pl.Callback):
    """timm's ``ModelEmaV3`` (warm-up on) of ``pl_module.model``, swapped in for validation and
    handed to :class:`RunCheckpoint` as the model to save."""

    def __init__(self, decay: float = 0.9998) -> None:
        self.decay = decay
        self.ema = None
        self.updates = 0
        self._backup: dict[str, torch.Tensor] | None = None
        self._pending: dict[str, Any] | None = None

    def on_fit_start(self, trainer, pl_module) -> None:
        from timm.utils import ModelEmaV3

        if self.ema is None:
            self.ema = ModelEmaV3(pl_module.model, decay=self.decay, use_warmup=True)
        if self._pending is not None:
            _network(self.ema.module).load_state_dict(self._pending["weights"])
            self._pending = None

    @property
    def model(self):
        return self.ema.module

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        self.updates += 1
        self.ema.update(pl_module.model, step=self.updates)

    def on_validation_start(self, trainer, pl_module) -> None:
        if self.ema is None or trainer.sanity_checking:
            return
        net = _network(pl_module.model)
        self._backup = {k: v.detach().clone() for k, v in net.state_dict().items()}
        net.load_state_dict(_network(self.ema.module).state_dict())

    def on_validation_end(self, trainer, pl_module) -> None:
        if self._backup is not None:
            _network(pl_module.model).load_state_dict(self._backup)
            self._backup = None

    def state_dict(self) -> dict[str, Any]:
        return {"updates": self.updates,
                "weights": {} if self.ema is None else _network(self.ema.module).state_dict()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.updates = int(state["updates"])
        self._pending = state if state.get("weights") else None


class NonFiniteLoss(pl.Callback):
    """Stop at a NaN or infinite training loss (see :class:`TrainingError`).

    On a GPU the check may come one or a few steps late, at the latest before validation and
    before any checkpoint is written (the fastai twin,
    :class:`~.fastai_callbacks.NonFiniteLossCallback`, says more).
    """

    def __init__(self, tracker: RunTracker | None = None, *,
                 values: StepValues | None = None) -> None:
        self.tracker = tracker
        self.values = values if values is not None else StepValues()
        if tracker is not None:
            tracker.check_before_save(self.check_pending)

    def on_fit_start(self, trainer, pl_module) -> None:
        self.values.clear()

    def on_before_backward(self, trainer, pl_module, loss) -> None:
        where = (trainer.current_epoch + 1, trainer.global_step + 1, _lr(trainer))
        self._check(self.values.push({"loss": loss}, where))

    def on_validation_start(self, trainer, pl_module) -> None:
        self.check_pending()

    def on_train_epoch_end(self, trainer, pl_module) -> None:
        self.check_pending()

    def check_pending(self) -> None:
        """Wait for the losses still on their way to the host and check them."""
        self._check(self.values.flush())

    def _check(self, entries) -> None:
        for (epoch, step, lr), values in entries:
            if not math.isfinite(values["loss"]):
                self.values.clear()
                self._fail(values["loss"], epoch, step, lr)

    def _fail(self, value: float, epoch: int, step: int, lr: float | None) -> None:
        kept = ""
        if self.tracker is not None and self.tracker.out is not None:
            done = self.tracker.state.epoch
            kept = (f"; {self.tracker.out / 'last.pt'} keeps epoch {done}" if done else
                    "; no epoch finished, so no checkpoint was kept")
        raise TrainingError(f"training loss is {value} in epoch {epoch}, step {step} at learning "
                            f"rate {lr:.3g}{kept}; lower --lr, check the boxes of the "
                            "data, or train with --precision 32")


class EpochLine(pl.Callback):
    """Print one line per finished epoch (rank 0 only)."""

    def __init__(self, run: RunCheckpoint, total_epochs: int | None = None,
                 file: Any = None) -> None:
        self.run, self.total, self.file = run, total_epochs, file

    def on_train_epoch_end(self, trainer, pl_module) -> None:
        if trainer.is_global_zero and self.run.last_row is not None:
            print(format_epoch_line(self.run.last_row, self.total), file=self.file or sys.stdout,
                  flush=True)


class RunCheckpoint(pl.Callback):
    """The run's bookkeeping around ``Trainer.fit`` (see the module docstring).

    Args:
        tracker: where the run's state and files live.
        seed: every training epoch starts from generators seeded by ``(seed, epoch)``.
        ema: the :class:`LightningEMA` whose model is validated and saved, if any.
        history: something with ``add_step(loss)`` and ``add_epoch(row)`` (``runs.History``).
        dataset: the training dataset, whose transform's generator is seeded with the others
            (default: the dataset of ``trainer.train_dataloader`` once Lightning has made it).
    """

    def __init__(self, tracker: RunTracker, *, seed: int | None = None,
                 ema: LightningEMA | None = None, history: Any = None,
                 dataset: Any = None) -> None:
        self.tracker, self.seed, self.ema, self.history = tracker, seed, ema, history
        self.dataset = dataset
        self.last_row: dict[str, Any] | None = None
        self._seeded: int | None = None
        self.values = StepValues()

    def setup(self, trainer, pl_module, stage: str) -> None:
        self.tracker.is_writer = trainer.is_global_zero
        if not trainer.is_global_zero:
            self.tracker.csv = None
        if stage == "fit":
            # Lightning makes the first epoch's iterator, and prefetches a batch, before any
            # epoch hook (configure_optimizers' estimated_stepping_batches sets up the data):
            # that epoch (the first of a run, or the one a resumed run repeats) is seeded here,
            # so a resumed epoch draws exactly what the interrupted one drew
            self._seeded = None
            self._seed_epoch(trainer, self.tracker.state.epoch)

    def _seed_epoch(self, trainer, epoch: int) -> None:
        if self.seed is None:
            return
        dataset = self.dataset
        if dataset is None:
            dataset = getattr(trainer.train_dataloader, "dataset", None)
        seed_epoch(self.seed, epoch, dataset)
        self._seeded = epoch

    def on_train_epoch_start(self, trainer, pl_module) -> None:
        self._t0 = time.perf_counter()
        if self._seeded != trainer.current_epoch:  # later epochs: their iterator comes next
            self._seed_epoch(trainer, trainer.current_epoch)
        self._seeded = None

    def on_fit_start(self, trainer, pl_module) -> None:
        self.values.clear()

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        loss = outputs["loss"] if isinstance(outputs, dict) else outputs
        self.tracker.step()
        if loss is not None:
            self.tracker.tensorboard_log()  # opened at the first step, as before (purge_step)
            # to the host without a sync; _use takes it, in order, once there (at once on CPU)
            self._use(self.values.push({"loss": loss}, self.tracker.state.step))

    def _use(self, entries) -> None:
        for step, values in entries:
            self.tracker.log_step_loss(values["loss"], step)
            if self.history is not None:
                self.history.add_step(values["loss"])

    def teardown(self, trainer, pl_module, stage: str) -> None:
        self._use(self.values.flush())
        self.tracker.close()  # the TensorBoard log: flushed and closed

    def on_train_epoch_end(self, trainer, pl_module) -> None:
        if trainer.sanity_checking:
            return
        self._use(self.values.flush())  # the epoch's every step, before last.pt keeps them
        aliases = [shown for _, shown in getattr(pl_module, "metrics_keys_to_log_to_prog_bar", ())]
        metrics = {k: v for k, v in trainer.callback_metrics.items()
                   if not _icevision_alias(k, aliases)}
        row = lightning_row(metrics)
        row["lr"], row["seconds"] = _lr(trainer), round(time.perf_counter() - self._t0, 3)
        model = self.ema.model if self.ema is not None else pl_module.model
        train_state = {"engine": "lightning", "rng": rng_state(),
                       "lightning": self._lightning_state(trainer)}
        if self.history is not None:
            train_state["history_steps"] = list(self.history.steps)
        stop = self.tracker.end_epoch(model, row, train_state)
        st = self.tracker.state
        self.last_row = {"epoch": st.epoch, **row, "best": st.best_epoch == st.epoch}
        if self.history is not None:
            old = {k: float(v) for k, v in metrics.items() if not k.endswith("_step")}
            self.history.add_epoch({"epoch": st.epoch,
                                    **{k.removesuffix("_epoch"): v for k, v in old.items()}})
        if stop:
            trainer.should_stop = True

    def _lightning_state(self, trainer) -> dict[str, Any] | None:
        if not trainer.is_global_zero or self.tracker.out is None:
            return None
        ckpt = trainer._checkpoint_connector.dump_checkpoint(weights_only=False)
        # the epoch ends here: a resumed fit starts the next one (as ModelCheckpoint's files do)
        plain = {k: v for k, v in ckpt.items() if k not in ("hyper_parameters", "hparams_name",
                                                             "datamodule_hyper_parameters")}
        try:
            _check_plain(plain, "lightning checkpoint")
        except CheckpointError:
            return None  # e.g. a user's callback state that is not plain data: no resume
        return plain
