"""IceVision 0.12's ``icevision.parsers.coco_parser``."""

from __future__ import annotations

from efficientdet_adapter.base.faces import INTERNAL, KEYPOINTS, MASKS, not_offered
from efficientdet_adapter.base.faces import KeypointsMetadata
from efficientdet_adapter.parsers.coco_bbox import COCOBBoxParser

__all__ = ["COCOBBoxParser", "COCOKeypointsMetadata"]


class COCOKeypointsMetadata(KeypointsMetadata):
    """COCO's 17 person keypoints (kept so that modules importing it load; keypoints are not
    offered)."""

    labels = ("nose", "left_eye", "right_eye", "left_ear", "right_ear", "left_shoulder",
              "right_shoulder", "left_elbow", "right_elbow", "left_wrist", "right_wrist",
              "left_hip", "right_hip", "left_knee", "right_knee", "left_ankle", "right_ankle")


NOT_OFFERED: dict[str, str] = {
    **dict.fromkeys(['COCOBaseParser'], INTERNAL),
    **dict.fromkeys(['COCOKeyPointsParser'], KEYPOINTS),
    **dict.fromkeys(['COCOMaskParser'], MASKS),
}
__getattr__ = not_offered(__name__, NOT_OFFERED)
