"""IceVision's ``models`` namespace: ``models.ross.efficientdet`` offers every name of
[`efficientdet`][efficientdet_adapter.efficientdet] (and IceVision's submodule paths:
``models.ross.efficientdet.lightning``...).

IceVision code that picks its model as ``model_type = models.ross.efficientdet`` and then calls
``model_type.model(...)``, ``model_type.train_dl(...)``, ``model_type.fastai.learner(...)``
runs unchanged. The deeper imports of IceVision's notebooks have their counterparts here:

======================================================  ==========================================
IceVision                                               efficientdet_adapter
======================================================  ==========================================
``icevision.models.ross.efficientdet``                   ``efficientdet_adapter.models.ross.efficientdet``
``icevision.models.utils.get_dataloaders``               ``efficientdet_adapter.models.utils.get_dataloaders``
``icevision.models.interpretation.get_samples_losses``   ``efficientdet_adapter.models.interpretation.get_samples_losses``
``icevision.models.inference_sahi.IceSahiModel``         ``efficientdet_adapter.models.inference_sahi.IceSahiModel``
``icevision.models.model_from_checkpoint``               ``efficientdet_adapter.models.model_from_checkpoint``
``icevision.engines.fastai.convert_dataloaders_to_fastai``  ``efficientdet_adapter.engines.fastai.convert_dataloaders_to_fastai``
======================================================  ==========================================

Only EfficientDet is offered: ``models.mmdet``, ``models.torchvision`` and
``models.ultralytics`` raise an error that says so.
"""

from __future__ import annotations

from typing import Any

from efficientdet_adapter import efficientdet
from efficientdet_adapter.models.checkpoint import model_from_checkpoint, save_icevision_checkpoint
from efficientdet_adapter.models import interpretation, ross, utils
from efficientdet_adapter.models.interpretation import get_samples_losses, get_stats, get_weighted_sum, sort_losses
from efficientdet_adapter.models.utils import get_dataloaders

__all__ = [
    "efficientdet",
    "get_dataloaders",
    "get_samples_losses",
    "get_stats",
    "get_weighted_sum",
    "sort_losses",
    "interpretation",
    "model_from_checkpoint",
    "ross",
    "save_icevision_checkpoint",
    "utils",
]

_OTHER_LIBRARIES = ("mmdet", "torchvision", "ultralytics", "fastai", "mmseg")

#: IceVision 0.12's names of ``icevision.models`` not offered here, and why.
NOT_OFFERED: dict[str, str] = {
    **utils.NOT_OFFERED,
    **interpretation.NOT_OFFERED,
    "torchvision": "other model families: efficientdet_adapter trains EfficientDet only",
    "SoftDependencies": "an IceVision internal with no counterpart here",
}


def __getattr__(name: str) -> Any:
    if name == "inference_sahi":  # needs the optional sahi package: imported on first use
        import importlib  # noqa: PLC0415

        module = importlib.import_module(".inference_sahi", __name__)
        globals()[name] = module
        return module
    if name in NOT_OFFERED and name not in _OTHER_LIBRARIES:
        raise AttributeError(f"models.{name}: IceVision's {name} is not offered by "
                             f"efficientdet_adapter ({NOT_OFFERED[name]})")
    if name in _OTHER_LIBRARIES:
        raise AttributeError(
            f"models.{name}: efficientdet_adapter trains EfficientDet only; use "
            "models.ross.efficientdet (with backbone=model_type.backbones.tf_lite0 and img_size=...)"
        )
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
