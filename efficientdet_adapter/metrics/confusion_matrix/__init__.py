"""IceVision 0.12's ``icevision.metrics.confusion_matrix``."""

from __future__ import annotations

from efficientdet_adapter.metrics.confusion_matrix import confusion_matrix
from efficientdet_adapter.metrics.confusion_matrix.confusion_matrix import SimpleConfusionMatrix

__all__ = ["SimpleConfusionMatrix"]
