"""IceVision 0.12's ``icevision.models.checkpoint``."""

from __future__ import annotations

from ..icevision_checkpoint import CLASSES, model_from_checkpoint, save_icevision_checkpoint

__all__ = ["save_icevision_checkpoint", "model_from_checkpoint", "CLASSES"]
