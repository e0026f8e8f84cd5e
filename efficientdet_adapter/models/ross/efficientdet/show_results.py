"""IceVision 0.12's ``icevision.models.ross.efficientdet.show_results``."""

from __future__ import annotations

from efficientdet_adapter.efficientdet import interp, show_results

__all__ = ["show_results", "interp"]
