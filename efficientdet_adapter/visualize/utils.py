"""IceVision 0.12's ``icevision.visualize.utils``."""

from __future__ import annotations

from efficientdet_adapter.base.faces import DRAW_PARTS, MASKS, not_offered
from efficientdet_adapter.pictures.draw import get_default_font

__all__ = ["get_default_font"]

NOT_OFFERED: dict[str, str] = {
    **dict.fromkeys(['as_rgb_tuple', 'bbox_polygon', 'draw_label', 'rand_cmap'], DRAW_PARTS),
    **dict.fromkeys(['draw_mask'], MASKS),
}
__getattr__ = not_offered(__name__, NOT_OFFERED)
