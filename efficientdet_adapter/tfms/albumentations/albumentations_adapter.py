"""IceVision 0.12's ``icevision.tfms.albumentations.albumentations_adapter``."""

from __future__ import annotations

from ..._faces import ALBU_COMPONENTS, not_offered
from ...tfms.albumentations_adapter import Adapter

__all__ = ["Adapter"]

NOT_OFFERED: dict[str, str] = {
    **dict.fromkeys(['AlbumentationsAdapterComponent', 'AlbumentationsBBoxesComponent', 'AlbumentationsImgComponent', 'AlbumentationsInstancesLabelsComponent', 'AlbumentationsIsCrowdsComponent', 'AlbumentationsKeypointsComponent', 'AlbumentationsMasksComponent', 'AlbumentationsSizeComponent'], ALBU_COMPONENTS),
}
__getattr__ = not_offered(__name__, NOT_OFFERED)
