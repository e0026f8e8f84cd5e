"""IceVision 0.12's ``icevision.models.ross.efficientdet.lightning.model_adapter``."""

from __future__ import annotations

from efficientdet_adapter.efficientdet.lightning import ModelAdapter

__all__ = ["ModelAdapter"]
