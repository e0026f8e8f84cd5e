"""IceVision 0.12's ``icevision.core.bbox``: [`BBox`][efficientdet_adapter.bbox.BBox]."""

from __future__ import annotations

from ..bbox import BBox

__all__ = ["BBox"]
