"""IceVision 0.12's ``icevision.core.bbox``: [`BBox`][efficientdet_adapter.records.bbox.BBox]."""

from __future__ import annotations

from efficientdet_adapter.records.bbox import BBox

__all__ = ["BBox"]
