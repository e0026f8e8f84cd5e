"""IceVision 0.12's ``icevision.parsers.coco_parser``."""

from __future__ import annotations

from .._faces import INTERNAL, KEYPOINTS, MASKS, not_offered
from ..parsers.coco import COCOBBoxParser

__all__ = ["COCOBBoxParser"]

NOT_OFFERED: dict[str, str] = {
    **dict.fromkeys(['COCOBaseParser'], INTERNAL),
    **dict.fromkeys(['COCOKeyPointsParser', 'COCOKeypointsMetadata'], KEYPOINTS),
    **dict.fromkeys(['COCOMaskParser'], MASKS),
}
__getattr__ = not_offered(__name__, NOT_OFFERED)
