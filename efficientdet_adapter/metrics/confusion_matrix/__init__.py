"""IceVision 0.12's ``icevision.metrics.confusion_matrix``."""

from __future__ import annotations

from . import confusion_matrix
from .confusion_matrix import SimpleConfusionMatrix

__all__ = ["SimpleConfusionMatrix"]
