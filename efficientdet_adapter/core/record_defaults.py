"""IceVision 0.12's ``icevision.core.record_defaults``: ``ObjectDetectionRecord``."""

from __future__ import annotations

from efficientdet_adapter.base.faces import GRAYSCALE, KEYPOINTS, MASKS, not_offered
from efficientdet_adapter.compat import ObjectDetectionRecord

__all__ = ["ObjectDetectionRecord"]

NOT_OFFERED: dict[str, str] = {
    **dict.fromkeys(['GrayScaleObjectDetectionRecord'], GRAYSCALE),
    **dict.fromkeys(['GrayScaleKeypointsRecord', 'KeypointsRecord'], KEYPOINTS),
    **dict.fromkeys(['GrayScaleInstanceSegmentationRecord', 'InstanceSegmentationRecord', 'SemanticSegmentationRecord'], MASKS),
}
__getattr__ = not_offered(__name__, NOT_OFFERED)
