"""IceVision 0.12's ``icevision.models.ross.efficientdet.model``."""

from __future__ import annotations

from efficientdet_adapter.efficientdet import model

__all__ = ["model"]
