"""Train an EfficientDet with PyTorch Lightning: subclass `ModelAdapter`.

A thin shell over [`steps`][efficientdet_adapter.loop.steps]. You add ``configure_optimizers``;
the adapter runs the steps,
logs the losses and finalizes the metrics at the end of each validation and test epoch.

Logged names: ``train_loss``, ``train_class_loss``, ``train_box_loss`` (per step and per epoch),
``val_loss``, ``val_class_loss``, ``val_box_loss`` (``test_*`` in ``trainer.test``), averaged per
image over the epoch and across processes, and ``<metric.name>/<key>`` for each key of each
metric's ``finalize()`` (``COCOMetric/AP (IoU=0.50:0.95) area=all``, ...). Under DDP the
COCOMetric gathers the predictions of every process, so each reports the whole validation set.

IceVision's names are logged too, so that ``monitor=`` strings, ``trainer.callback_metrics``
lookups and ``trainer.validate``/``test`` results written for IceVision find their keys:
0.12's ``train/loss``, ``train/class_loss``, ``train/box_loss`` (per step, this process's
value, as there), ``valid/loss``, ``valid/class_loss``, ``valid/box_loss`` (``test/*`` in
``trainer.test``), and the plain ``COCOMetric`` (the headline AP, on the progress bar) chosen by
``metrics_keys_to_log_to_prog_bar``. IceVision master's names are the ``train_*``/``val_*``/
``test_*`` above.

The per-step training losses go to the loggers, not to the progress bar: the bar reads its values
on the host at every refresh, which would stop the CPU until the GPU has finished each step
(``val_loss`` is shown, once per validation). Mixed precision (``precision="bf16-mixed"`` or
``"16-mixed"``) on a GPU trains the network in ``channels_last`` (see ``channels_last`` below).

Example:
    >>> class LightModel(efficientdet.lightning.ModelAdapter):                 # doctest: +SKIP
    ...     def configure_optimizers(self):
    ...         return torch.optim.AdamW(self.parameters(), lr=1e-3)
    >>> light = LightModel(model, metrics=[COCOMetric()])                        # doctest: +SKIP
    >>> pl.Trainer(max_epochs=10).fit(light, train_dl, valid_dl)                 # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from types import ModuleType

from torch import Tensor, nn

from efficientdet_adapter.records.predictions import Prediction
from efficientdet_adapter.base.version_compat import lightning_package
from efficientdet_adapter.loop.steps import (
    batch_size,
    channels_last_pays,
    loss_step,
    predict_step,
    use_channels_last,
    validation_step,
)

__all__ = ["ICEVISION_LOSS_PREFIXES", "ICEVISION_PROG_BAR_KEYS", "ModelAdapter",
           "model_adapter_class"]

# Fails here, with the extra to install, when neither Lightning package is installed.
lightning_package("efficientdet.lightning")

#: IceVision's ``LightningModelAdapter`` default: the headline AP as ``COCOMetric``.
ICEVISION_PROG_BAR_KEYS: tuple[tuple[str, str], ...] = (("AP (IoU=0.50:0.95) area=all",
                                                          "COCOMetric"),)
#: IceVision 0.12's loss names (``train/loss``, ``valid/loss``...), by this adapter's prefix.
ICEVISION_LOSS_PREFIXES: dict[str, str] = {"train": "train/", "val": "valid/", "test": "test/"}


class ModelAdapterMethods:
    """The body of `ModelAdapter`, free of either Lightning package (see
    [`model_adapter_class`][efficientdet_adapter.engines.lightning.adapter.model_adapter_class]).

    ``ModelAdapter`` is a LightningModule around an ``EfficientDetModel``; subclass it to add
    ``configure_optimizers``. It is built on the Lightning package that
    `lightning_package` picks when it is first read:
    ``lightning`` after ``import lightning as L``, else ``pytorch_lightning``; so
    ``L.Trainer`` and ``pl.Trainer`` both take it.

    Args:
        model: an ``EfficientDetModel`` from ``efficientdet.model`` (effdet's training bench).
        metrics: engine-agnostic metrics (``accumulate(preds)`` / ``finalize() -> dict``), such
            as ``[COCOMetric()]``; fed in validation and test steps.
        channels_last: convert the network to the ``channels_last`` layout when the fit starts
            (see [`use_channels_last`][efficientdet_adapter.loop.steps.use_channels_last]);
            ``"auto"``: when training on a GPU in mixed
            precision (``precision="16-mixed"``/``"bf16-mixed"``), where half-precision
            convolutions want it, and on the CPU (see
            [`channels_last_pays`][efficientdet_adapter.loop.steps.channels_last_pays]).

    ``predict_step`` takes inference batches (``efficientdet.infer_dl``) and returns a
    ``list[Prediction]`` per batch (``detection_threshold`` sets their thresholded views).
    """

    def __init__(
        self,
        model: nn.Module,
        metrics: Sequence[Any] | None = None,
        detection_threshold: float = 0.5,
        channels_last: bool | str = "auto",
        metrics_keys_to_log_to_prog_bar: Sequence[tuple[str, str]] | None = None,
    ) -> None:
        super().__init__()
        self.model = model
        self.metrics = list(metrics or [])
        self.metrics_keys_to_log_to_prog_bar = [tuple(e) for e in (
            metrics_keys_to_log_to_prog_bar or ICEVISION_PROG_BAR_KEYS)]
        self.detection_threshold = detection_threshold
        self.channels_last = channels_last

    def forward(self, images: Tensor, targets: dict[str, Any]) -> dict[str, Tensor]:
        return self.model(images, targets)

    def transfer_batch_to_device(self, batch: Any, device: Any, dataloader_idx: int) -> Any:
        """Move the tensors of ``((images, targets), records)``; the records stay as they are
        (Lightning cannot walk into their frozen ``BBox`` dataclasses, and needs not)."""
        tensors, records = batch
        return super().transfer_batch_to_device(tensors, device, dataloader_idx), records

    # -- modes -----------------------------------------------------------------------------
    def on_fit_start(self) -> None:
        self.train()  # before Lightning's "modules in eval mode" check; see on_train_epoch_start
        if _wants_channels_last(self.channels_last, self.device.type, self.trainer.precision):
            use_channels_last(self.model)

    def on_train_epoch_start(self) -> None:
        """Train mode for every training epoch.

        Lightning 2 keeps the mode it finds. A model that fastai trained (or ``predict`` ran)
        is left in eval mode, and Lightning would then "train" it with BatchNorm frozen on its
        running statistics (IceVision's getting-started does exactly that: fastai, then
        Lightning). Validation still switches to eval mode and back as usual.
        """
        self.train()

    # -- steps -----------------------------------------------------------------------------
    def training_step(self, batch: Any, batch_idx: int) -> Tensor:
        losses = loss_step(self.model, batch)
        bs = batch_size(batch)
        for key, value in losses.items():
            self.log(f"train_{key}", value, on_step=True, on_epoch=True, batch_size=bs,
                     sync_dist=True)
            self.log(f"train/{key}", value, on_step=True, on_epoch=False, batch_size=bs)
        return losses["loss"]

    def validation_step(self, batch: Any, batch_idx: int) -> None:
        self._evaluate(batch, "val")

    def test_step(self, batch: Any, batch_idx: int) -> None:
        self._evaluate(batch, "test")

    def predict_step(self, batch: Any, batch_idx: int, dataloader_idx: int = 0) -> list[Prediction]:
        return predict_step(self.model, batch, detection_threshold=self.detection_threshold)

    def _evaluate(self, batch: Any, prefix: str) -> None:
        losses, preds = validation_step(self.model, batch)
        for metric in self.metrics:
            metric.accumulate(preds)
        bs = batch_size(batch)
        for key, value in losses.items():
            self.log(f"{prefix}_{key}", value, on_step=False, on_epoch=True, batch_size=bs,
                     prog_bar=key == "loss", sync_dist=True)
            self.log(ICEVISION_LOSS_PREFIXES[prefix] + key, value, on_step=False, on_epoch=True,
                     batch_size=bs, sync_dist=True)

    # -- epoch ends ------------------------------------------------------------------------
    def on_validation_batch_end(self, outputs: Any, batch: Any, batch_idx: int,
                                dataloader_idx: int = 0) -> None:
        """After the last batch of the one validation loader (the sanity check's too), finalize
        and log the metrics: Lightning calls the callbacks' ``on_validation_epoch_end`` before
        this module's, and IceVision's users' callbacks read ``trainer.callback_metrics
        ["COCOMetric"]`` there (IceVision's adapter logged in Lightning 1's
        ``validation_epoch_end``, which ran first)."""
        trainer = self.trainer
        counts = trainer.num_sanity_val_batches if trainer.sanity_checking else trainer.num_val_batches
        if len(counts) == 1 and batch_idx + 1 == counts[0]:
            self._finalize_metrics()
            self._metrics_finalized = True

    def on_validation_epoch_end(self) -> None:
        if not getattr(self, "_metrics_finalized", False):  # several loaders, or unsized ones
            self._finalize_metrics()
        self._metrics_finalized = False

    def on_test_epoch_end(self) -> None:
        self._finalize_metrics()

    def _finalize_metrics(self) -> None:
        for metric in self.metrics:
            name = getattr(metric, "name", None) or type(metric).__name__
            # finalize() is collective under DDP (every process gathers all predictions), so
            # every process calls it, and each logs the same values. One value an epoch: its
            # batch_size is 1 (inside a batch hook Lightning would infer one from the batch).
            for key, value in metric.finalize().items():
                self.log(f"{name}/{key}", float(value), sync_dist=True, batch_size=1)
                for wanted, shown in self.metrics_keys_to_log_to_prog_bar:
                    if wanted == key:
                        self.log(shown, float(value), prog_bar=True, sync_dist=True,
                                 batch_size=1)


_ADAPTERS: dict[str, type] = {}


def model_adapter_class(package: ModuleType | None = None) -> type:
    """``ModelAdapter`` built on ``package`` (``pytorch_lightning`` or ``lightning.pytorch``;
    default: `lightning_package`), one class per
    package."""
    package = package or lightning_package("efficientdet.lightning")
    cls = _ADAPTERS.get(package.__name__)
    if cls is None:
        cls = type("ModelAdapter", (ModelAdapterMethods, package.LightningModule),
                   {"__module__": "efficientdet_adapter.efficientdet.lightning",
                    "__qualname__": "ModelAdapter",
                    "__doc__": ModelAdapterMethods.__doc__})
        _ADAPTERS[package.__name__] = cls
    return cls


def __getattr__(name: str) -> type:
    # ModelAdapter is read, not stored: a program that imports `lightning` after this module
    # still gets the adapter that `lightning.Trainer` takes.
    if name == "ModelAdapter":
        return model_adapter_class()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _wants_channels_last(setting: bool | str, device_type: str, precision: Any) -> bool:
    """``"auto"``: [`channels_last_pays`][efficientdet_adapter.loop.steps.channels_last_pays]
    for this device and precision (see ``ModelAdapter``'s ``channels_last``)."""
    if setting != "auto":
        return bool(setting)
    from efficientdet_adapter.base.devices import normalize_precision  # noqa: PLC0415
    from efficientdet_adapter.base.errors import UsageError  # noqa: PLC0415

    try:  # Lightning's own spellings too; one this library does not use ("64-true") is not mixed
        mixed = normalize_precision(str(precision)) in ("fp16", "bf16")
    except UsageError:
        mixed = False
    return channels_last_pays(device_type, mixed)
