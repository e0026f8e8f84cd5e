"""IceVision's ``icevision.models.torchvision``: not offered. The module imports (IceVision's test
suite and some projects import ``faster_rcnn`` and ``keypoint_rcnn`` at their top), and using
any of its model types raises one ImportError that says so."""

from __future__ import annotations

from typing import Any

__all__ = ["faster_rcnn", "retinanet", "mask_rcnn", "keypoint_rcnn"]

MESSAGE = ("efficientdet_adapter.models.torchvision: IceVision's torchvision models are not "
           "offered; efficientdet_adapter trains EfficientDet only: use models.ross.efficientdet "
           "(with backbone=model_type.backbones.tf_lite0 and img_size=...)")


class NotOfferedModelType:
    """A model type of another family: any use of it raises the ImportError above."""

    def __init__(self, name: str) -> None:
        self._name = name

    def __getattr__(self, attribute: str) -> Any:
        if attribute.startswith("__"):
            raise AttributeError(attribute)
        raise ImportError(f"{MESSAGE} ({self._name}.{attribute} was used)")

    def __repr__(self) -> str:
        return f"<not offered: models.torchvision.{self._name}>"


faster_rcnn = NotOfferedModelType("faster_rcnn")
retinanet = NotOfferedModelType("retinanet")
mask_rcnn = NotOfferedModelType("mask_rcnn")
keypoint_rcnn = NotOfferedModelType("keypoint_rcnn")
