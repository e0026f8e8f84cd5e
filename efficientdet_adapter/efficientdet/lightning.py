"""IceVision's ``efficientdet.lightning``: train an EfficientDet with PyTorch Lightning,
subclass ``efficientdet.lightning.ModelAdapter`` and add ``configure_optimizers``.

The engine lives in
[`efficientdet_adapter.engines.lightning.adapter`][efficientdet_adapter.engines.lightning.adapter]
(what is logged, under
which names, and why); this module keeps IceVision's name for it.

Example:
    >>> class LightModel(efficientdet.lightning.ModelAdapter):                 # doctest: +SKIP
    ...     def configure_optimizers(self):
    ...         return torch.optim.AdamW(self.parameters(), lr=1e-3)
    >>> light = LightModel(model, metrics=[COCOMetric()])                        # doctest: +SKIP
    >>> pl.Trainer(max_epochs=10).fit(light, train_dl, valid_dl)                 # doctest: +SKIP
"""

from __future__ import annotations

from efficientdet_adapter.engines.lightning.adapter import (
    ICEVISION_LOSS_PREFIXES,
    ICEVISION_PROG_BAR_KEYS,
    ModelAdapterMethods,
    model_adapter_class,
)

__all__ = ["ICEVISION_LOSS_PREFIXES", "ICEVISION_PROG_BAR_KEYS", "ModelAdapter",
           "model_adapter_class"]


def __getattr__(name: str) -> type:
    # ModelAdapter is read, not stored: a program that imports `lightning` after this module
    # still gets the adapter that `lightning.Trainer` takes.
    if name == "ModelAdapter":
        return model_adapter_class()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
