"""Lightning callbacks of a training run, thin shells over the run core
([`core`][efficientdet_adapter.engines.core]);
``efficientdet-adapter train --engine lightning`` uses exactly these (the fastai twins are in
[`fastai.callbacks`][efficientdet_adapter.engines.fastai.callbacks]).

* [`RunCheckpoint`][efficientdet_adapter.engines.lightning.callbacks.RunCheckpoint]: per-epoch
  seeding, the epoch's losses and COCO metrics, ``best.pt`` /
  ``last.pt`` / ``metrics.csv`` through a
  [`RunTracker`][efficientdet_adapter.training.state.RunTracker]
  (only the global rank 0 writes; under DDP every rank holds the same metric, see
  ``COCOMetric``), early stopping (``trainer.should_stop``), and in ``last.pt`` Lightning's own
  checkpoint dict for resuming. The sanity-check validation never counts.
* [`LightningEMA`][efficientdet_adapter.engines.lightning.callbacks.LightningEMA]: the EMA of the
  weights ([`WeightAverage`][efficientdet_adapter.engines.core.WeightAverage]), validated and
  saved.
* [`NonFiniteLoss`][efficientdet_adapter.engines.lightning.callbacks.NonFiniteLoss]: a
  [`TrainingError`][efficientdet_adapter.base.errors.TrainingError] at the first NaN
  or infinite training loss ([`NonFiniteGuard`][efficientdet_adapter.engines.core.NonFiniteGuard]).
* [`EpochLine`][efficientdet_adapter.engines.lightning.callbacks.EpochLine]: one printed line per
  epoch.

As with fastai, no callback reads a loss on the host while a step runs: on a GPU the losses come
through [`StepValues`][efficientdet_adapter.loop.step_values.StepValues].

Example:
    >>> tracker = RunTracker("runs/x", class_map, patience=3)                     # doctest: +SKIP
    >>> ema = LightningEMA()                                                      # doctest: +SKIP
    >>> pl.Trainer(max_epochs=20, callbacks=[RunCheckpoint(tracker, ema=ema), ema,
    ...            NonFiniteLoss(tracker)]).fit(light, train_dl, valid_dl)       # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from efficientdet_adapter.weights.state_dict import check_plain
from efficientdet_adapter.base.errors import CheckpointError
from efficientdet_adapter.training.state import RunTracker, rng_state
from efficientdet_adapter.base.version_compat import lightning_package
from efficientdet_adapter.engines.core import (NonFiniteGuard, RunRecorder, StepPlace, WeightAverage, freeze_bn_stats,
                    print_epoch_line)
from efficientdet_adapter.loop.step_values import StepValues

#: The Lightning package these callbacks are built on (``pytorch_lightning`` or
#: ``lightning.pytorch``, see ``lightning_package``): use
#: its ``Trainer`` and ``model_adapter_class``.
pl = lightning_package("efficientdet_adapter.engines.lightning.callbacks")

__all__ = ["RunCheckpoint", "LightningEMA", "NonFiniteLoss", "EpochLine", "FreezeBNStats",
           "lightning_row"]


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
    """The EMA ([`WeightAverage`][efficientdet_adapter.engines.core.WeightAverage]) of
    ``pl_module.model``, swapped in for
    validation and handed to
    [`RunCheckpoint`][efficientdet_adapter.engines.lightning.callbacks.RunCheckpoint] as the model
    to save."""

    def __init__(self, decay: float = 0.9998) -> None:
        self.average = WeightAverage(decay)

    @property
    def ema(self) -> Any:
        """timm's ``ModelEmaV3`` (``None`` before the fit starts)."""
        return self.average.averaged

    @property
    def updates(self) -> int:
        return self.average.updates

    @property
    def model(self):
        return self.average.model

    def on_fit_start(self, trainer, pl_module) -> None:
        self.average.ensure(pl_module.model)

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        self.average.update(pl_module.model)

    def on_validation_start(self, trainer, pl_module) -> None:
        if not trainer.sanity_checking:
            self.average.swap_in(pl_module.model)

    def on_validation_end(self, trainer, pl_module) -> None:
        self.average.swap_out(pl_module.model)

    def state_dict(self) -> dict[str, Any]:
        return self.average.state_dict()

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.average.load_state_dict(state)


class NonFiniteLoss(pl.Callback):
    """Stop at a NaN or infinite training loss, naming the epoch, the optimizer step, the batch
    and the learning rate (see
    [`NonFiniteGuard`][efficientdet_adapter.engines.core.NonFiniteGuard])."""

    def __init__(self, tracker: RunTracker | None = None, *,
                 values: StepValues | None = None) -> None:
        self.guard = NonFiniteGuard(tracker, values=values)
        self._batch = 0

    @property
    def values(self) -> StepValues:
        """The guard's queue of losses on their way to the host."""
        return self.guard.values

    @values.setter
    def values(self, values: StepValues) -> None:
        self.guard.values = values

    def on_fit_start(self, trainer, pl_module) -> None:
        self.guard.clear()

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        self._batch = batch_idx + 1

    def on_before_backward(self, trainer, pl_module, loss) -> None:
        self.guard.push(loss, StepPlace(trainer.current_epoch + 1, trainer.global_step + 1,
                                        self._batch, _lr(trainer)))

    def on_validation_start(self, trainer, pl_module) -> None:
        self.guard.check_pending()

    def on_train_epoch_end(self, trainer, pl_module) -> None:
        self.guard.check_pending()

    def check_pending(self) -> None:
        """Wait for the losses still on their way to the host and check them."""
        self.guard.check_pending()


class FreezeBNStats(pl.Callback):
    """Keep BatchNorm's running statistics as loaded
    ([`freeze_bn_stats`][efficientdet_adapter.engines.core.freeze_bn_stats])."""

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        # at an epoch's first batch: the module's own on_train_epoch_start, which Lightning
        # calls after the callbacks' hook, puts every layer back in training mode
        if batch_idx == 0:
            freeze_bn_stats(pl_module)


class EpochLine(pl.Callback):
    """Print one line per finished epoch (rank 0 only)."""

    def __init__(self, run: RunCheckpoint, total_epochs: int | None = None,
                 file: Any = None) -> None:
        self.run, self.total, self.file = run, total_epochs, file

    def on_train_epoch_end(self, trainer, pl_module) -> None:
        if trainer.is_global_zero:
            print_epoch_line(self.run.last_row, self.run.recorder.total_epochs(self.total),
                             self.file)


class RunCheckpoint(pl.Callback):
    """The run's bookkeeping around ``Trainer.fit`` (see the module docstring and
    [`RunRecorder`][efficientdet_adapter.engines.core.RunRecorder]).

    Args:
        tracker: where the run's state and files live.
        seed: every training epoch starts from generators seeded by ``(seed, epoch)``.
        ema: the [`LightningEMA`][efficientdet_adapter.engines.lightning.callbacks.LightningEMA]
            whose model is validated and saved, if any.
        dataset: the training dataset, whose transform's generator is seeded with the others
            (default: the dataset of ``trainer.train_dataloader`` once Lightning has made it).
    """

    def __init__(self, tracker: RunTracker, *, seed: int | None = None,
                 ema: LightningEMA | None = None, dataset: Any = None) -> None:
        self.recorder = RunRecorder(tracker, seed)
        self.tracker, self.seed, self.ema = tracker, seed, ema
        self.dataset = dataset
        self._seeded: int | None = None
        self.values = StepValues()

    @property
    def last_row(self) -> dict[str, Any] | None:
        """The last finished epoch's row, as printed
        ([`format_epoch_line`][efficientdet_adapter.engines.core.format_epoch_line])."""
        return self.recorder.last_row

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
        dataset = self.dataset
        if dataset is None and self.seed is not None:
            dataset = getattr(trainer.train_dataloader, "dataset", None)
        if self.recorder.seed_epoch(epoch, dataset):
            self._seeded = epoch

    def on_train_epoch_start(self, trainer, pl_module) -> None:
        self.recorder.start_epoch()
        if self._seeded != trainer.current_epoch:  # later epochs: their iterator comes next
            self._seed_epoch(trainer, trainer.current_epoch)
        self._seeded = None

    def on_fit_start(self, trainer, pl_module) -> None:
        self.values.clear()

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        loss = outputs["loss"] if isinstance(outputs, dict) else outputs
        if loss is None:  # a skipped step (training_step returned None): counted, nothing logged
            self.tracker.step()
            return
        step = self.recorder.count_step()
        # to the host without a sync; _use takes it, in order, once there (at once on the CPU)
        self._use(self.values.push({"loss": loss}, step))

    def _use(self, entries) -> None:
        for step, values in entries:
            self.tracker.log_step_loss(values["loss"], step)

    def teardown(self, trainer, pl_module, stage: str) -> None:
        self._use(self.values.flush())
        self.recorder.close()

    def on_train_epoch_end(self, trainer, pl_module) -> None:
        if trainer.sanity_checking:
            return
        self._use(self.values.flush())  # the epoch's every step, before last.pt keeps them
        aliases = [shown for _, shown in getattr(pl_module, "metrics_keys_to_log_to_prog_bar", ())]
        row = lightning_row({k: v for k, v in trainer.callback_metrics.items()
                             if not _icevision_alias(k, aliases)})
        model = self.ema.model if self.ema is not None else pl_module.model
        train_state = {"engine": "lightning", "rng": rng_state(),
                       "lightning": self._lightning_state(trainer)}
        if self.recorder.end_epoch(model, row, train_state, _lr(trainer)):
            trainer.should_stop = True

    def _lightning_state(self, trainer) -> dict[str, Any] | None:
        if not trainer.is_global_zero or self.tracker.out is None:
            return None
        ckpt = trainer._checkpoint_connector.dump_checkpoint(weights_only=False)
        # the epoch ends here: a resumed fit starts the next one (as ModelCheckpoint's files do)
        plain = {k: v for k, v in ckpt.items() if k not in ("hyper_parameters", "hparams_name",
                                                             "datamodule_hyper_parameters")}
        try:
            check_plain(plain, "lightning checkpoint")
        except CheckpointError:
            return None  # e.g. a user's callback state that is not plain data: no resume
        return plain
