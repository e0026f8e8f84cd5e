"""IceVision 0.12's ``icevision.engines.lightning.lightning_model_adapter``: the model-agnostic
Lightning base, whose ``finalize_metrics`` logs each metric's values."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from efficientdet_adapter.base.version_compat import lightning_package

__all__ = ["LightningModelAdapter"]


class LightningModelAdapterMethods:
    """IceVision's base: keeps ``metrics`` and logs what they finalize to.

    Args:
        metrics: metrics with ``accumulate``, ``finalize() -> dict`` and ``name``.
        metrics_keys_to_log_to_prog_bar: ``(key, shown name)`` pairs shown in the progress bar.
    """

    def __init__(self, metrics: Sequence[Any] | None = None,
                 metrics_keys_to_log_to_prog_bar: Sequence[tuple[str, str]] | None = None):
        super().__init__()
        self.metrics = list(metrics or [])
        self.metrics_keys_to_log_to_prog_bar = list(metrics_keys_to_log_to_prog_bar or [])

    def accumulate_metrics(self, preds: Any) -> None:
        for metric in self.metrics:
            metric.accumulate(preds)

    def finalize_metrics(self) -> None:
        """Log ``<metric name>/<key>`` for each value, and the prog-bar keys under their names."""
        shown = dict(self.metrics_keys_to_log_to_prog_bar)
        for metric in self.metrics:
            for key, value in metric.finalize().items():
                if key in shown:
                    self.log(shown[key], value, prog_bar=True)
                self.log(f"{metric.name}/{key}", value)


_CLASSES: dict[str, type] = {}


def __getattr__(name: str) -> type:
    # built on the Lightning package in use when first read (as ModelAdapter is)
    if name == "LightningModelAdapter":
        package = lightning_package("LightningModelAdapter")
        if package.__name__ not in _CLASSES:
            _CLASSES[package.__name__] = type(
                "LightningModelAdapter", (LightningModelAdapterMethods, package.LightningModule),
                {"__module__": __name__, "__doc__": LightningModelAdapterMethods.__doc__})
        return _CLASSES[package.__name__]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
