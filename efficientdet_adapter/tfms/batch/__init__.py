"""IceVision 0.12's ``icevision.tfms.batch``: transforms of a list of records."""

from __future__ import annotations

from . import batch_transform, img_pad_stack
from .batch_transform import BatchTransform
from .img_pad_stack import ImgPadStack

__all__ = ["BatchTransform", "ImgPadStack"]
