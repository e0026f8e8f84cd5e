"""IceVision 0.12's ``icevision.models.inference``: ``efficientdet.end2end_detect`` does it all."""

from __future__ import annotations

from .._faces import INTERNAL, not_offered
__all__: list[str] = []

NOT_OFFERED: dict[str, str] = {
    **dict.fromkeys(['draw_img_and_boxes', 'process_bbox_predictions'], INTERNAL),
}
__getattr__ = not_offered(__name__, NOT_OFFERED)
