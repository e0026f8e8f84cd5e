"""IceVision 0.12's ``icevision.tfms.batch``: transforms of a list of records."""

from __future__ import annotations

from efficientdet_adapter.tfms.batch import batch_transform, img_pad_stack
from efficientdet_adapter.tfms.batch.batch_transform import BatchTransform
from efficientdet_adapter.tfms.batch.img_pad_stack import ImgPadStack

__all__ = ["BatchTransform", "ImgPadStack"]
