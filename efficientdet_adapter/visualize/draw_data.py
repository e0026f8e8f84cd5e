"""IceVision 0.12's ``icevision.visualize.draw_data``: ``draw_record`` draws records and predictions."""

from __future__ import annotations

from efficientdet_adapter.base.faces import DRAW_PARTS, KEYPOINTS, MASKS, not_offered
from efficientdet_adapter.pictures.draw import draw_record

__all__ = ["draw_sample", "draw_record", "draw_pred"]

draw_sample = draw_record  # IceVision drew a sample, a record and a prediction alike
draw_pred = draw_record

NOT_OFFERED: dict[str, str] = {
    **dict.fromkeys(['draw_bbox', 'draw_label'], DRAW_PARTS),
    **dict.fromkeys(['draw_keypoints'], KEYPOINTS),
    **dict.fromkeys(['draw_mask', 'draw_segmentation_mask'], MASKS),
}
__getattr__ = not_offered(__name__, NOT_OFFERED)
