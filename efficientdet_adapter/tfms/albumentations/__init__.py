"""IceVision 0.12's ``icevision.tfms.albumentations`` (``from icevision.tfms import
albumentations as A``):
[`efficientdet_adapter.tfms.albumentations_adapter`][efficientdet_adapter.tfms.albumentations_adapter], i.e. ``tfms.A``.

Any other name (``A.HorizontalFlip``...) is albumentations' own, as in IceVision.
"""

from __future__ import annotations

from typing import Any

from efficientdet_adapter import tfms as _tfms
from efficientdet_adapter.base.faces import gather, not_offered
from efficientdet_adapter.tfms.albumentations import albumentations_adapter, albumentations_helpers

__all__ = sorted(set(gather(globals(), _tfms.A, albumentations_adapter, albumentations_helpers)))

NOT_OFFERED: dict[str, str] = {}
_missing = not_offered(__name__, NOT_OFFERED)


def __getattr__(name: str) -> Any:
    if name in NOT_OFFERED:
        return _missing(name)
    return getattr(_tfms.A, name)  # albumentations' transforms, through tfms.A
