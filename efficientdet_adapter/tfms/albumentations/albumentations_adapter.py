"""IceVision 0.12's ``icevision.tfms.albumentations.albumentations_adapter``.

``Adapter`` is this library's; IceVision's per-component classes are kept as names (modules that
import them load) and raise one clear error when made: ``Adapter`` transforms a record's image,
boxes, labels, crowd flags and areas itself."""

from __future__ import annotations

from typing import Any

from efficientdet_adapter.base.errors import UsageError
from efficientdet_adapter.tfms.albumentations_adapter import Adapter

NOT_OFFERED: dict[str, str] = {}
__all__ = ["Adapter", "AlbumentationsAdapterComponent", "AlbumentationsBBoxesComponent",
           "AlbumentationsImgComponent", "AlbumentationsInstancesLabelsComponent",
           "AlbumentationsIsCrowdsComponent", "AlbumentationsKeypointsComponent",
           "AlbumentationsMasksComponent", "AlbumentationsSizeComponent"]


class AlbumentationsAdapterComponent:
    """Not offered: ``tfms.A.Adapter`` does each component's work itself."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        raise UsageError(f"{type(self).__name__}: IceVision's albumentations components are not "
                         "offered; tfms.A.Adapter transforms the image, boxes, labels, crowd "
                         "flags and areas itself")


class AlbumentationsBBoxesComponent(AlbumentationsAdapterComponent):
    """Not offered (see the base class); IceVision's ``_clip_bboxes`` helper is kept."""

    @staticmethod
    def _clip_bboxes(xyxy: tuple[float, float, float, float], h: int, w: int) -> tuple:
        """A box clipped to the band an ``h`` x ``w`` image fills once padded, centered, to a
        square of side ``max(h, w)`` (IceVision's helper)."""
        x1, y1, x2, y2 = xyxy
        if w >= h:
            pad = (w - h) // 2
            return (x1, max(y1, pad), x2, min(y2, w - pad))
        pad = (h - w) // 2
        return (max(x1, pad), y1, min(x2, h - pad), y2)
class AlbumentationsImgComponent(AlbumentationsAdapterComponent): ...
class AlbumentationsInstancesLabelsComponent(AlbumentationsAdapterComponent): ...
class AlbumentationsIsCrowdsComponent(AlbumentationsAdapterComponent): ...
class AlbumentationsKeypointsComponent(AlbumentationsAdapterComponent): ...
class AlbumentationsMasksComponent(AlbumentationsAdapterComponent): ...
class AlbumentationsSizeComponent(AlbumentationsAdapterComponent): ...
