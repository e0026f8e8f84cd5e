"""IceVision 0.12's ``icevision.core.class_map``."""

from __future__ import annotations

from efficientdet_adapter.records.class_map import BACKGROUND, ClassMap

__all__ = ["BACKGROUND", "ClassMap"]
