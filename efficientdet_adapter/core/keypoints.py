"""IceVision 0.12's ``icevision.core.keypoints``: keypoints are not offered (EfficientDet predicts
boxes). ``KeypointsMetadata`` stays a class, so that modules subclassing it at their top still
import; making ``KeyPoints`` raises one clear error."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from efficientdet_adapter.base.errors import UsageError
from efficientdet_adapter.base.faces import KeypointsMetadata  # parsers.coco_parser subclasses it

__all__ = ["KeyPoints", "KeypointConnection", "KeypointsMetadata"]


@dataclass
class KeypointConnection:
    """IceVision's connection between two keypoints (kept for imports)."""

    p1: Any
    p2: Any
    color: tuple = (0, 0, 0)


class KeyPoints:
    """Not offered: keypoints are not something EfficientDet predicts."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        raise UsageError("KeyPoints: keypoints are not offered: efficientdet_adapter trains "
                         "EfficientDet, which predicts boxes")

    @classmethod
    def from_xyv(cls, *args: Any, **kwargs: Any) -> "KeyPoints":
        return cls(*args, **kwargs)
