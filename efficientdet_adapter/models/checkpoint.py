"""IceVision 0.12's ``icevision.models.checkpoint``."""

from __future__ import annotations

from ..weights.checkpoint import model_from_checkpoint
from ..weights.icevision import CLASSES, save_icevision_checkpoint

__all__ = ["save_icevision_checkpoint", "model_from_checkpoint", "CLASSES"]
