"""IceVision 0.12's ``icevision.tfms.albumentations.albumentations_helpers``."""

from __future__ import annotations

from ..._faces import GEOMETRY, not_offered
from ...tfms.albumentations_adapter import aug_tfms, resize, resize_and_pad

__all__ = ["aug_tfms", "resize", "resize_and_pad"]

NOT_OFFERED: dict[str, str] = {
    **dict.fromkeys(['get_size_without_padding'], GEOMETRY),
}
__getattr__ = not_offered(__name__, NOT_OFFERED)
