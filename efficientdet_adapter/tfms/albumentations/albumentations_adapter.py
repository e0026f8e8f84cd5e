"""IceVision 0.12's ``icevision.tfms.albumentations.albumentations_adapter``.

``Adapter`` is this library's; IceVision's per-component classes are kept as names (modules that
import them load) and raise one clear error when made: ``Adapter`` transforms a record's image,
boxes, labels, crowd flags and areas itself."""

from __future__ import annotations

from typing import Any

from ...errors import UsageError
from ...tfms.albumentations_adapter import Adapter

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


class AlbumentationsBBoxesComponent(AlbumentationsAdapterComponent): ...
class AlbumentationsImgComponent(AlbumentationsAdapterComponent): ...
class AlbumentationsInstancesLabelsComponent(AlbumentationsAdapterComponent): ...
class AlbumentationsIsCrowdsComponent(AlbumentationsAdapterComponent): ...
class AlbumentationsKeypointsComponent(AlbumentationsAdapterComponent): ...
class AlbumentationsMasksComponent(AlbumentationsAdapterComponent): ...
class AlbumentationsSizeComponent(AlbumentationsAdapterComponent): ...
