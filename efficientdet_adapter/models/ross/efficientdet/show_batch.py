"""IceVision 0.12's ``icevision.models.ross.efficientdet.show_batch``."""

from __future__ import annotations

from efficientdet_adapter.efficientdet import show_batch

__all__ = ["show_batch"]
