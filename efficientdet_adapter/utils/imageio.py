"""IceVision 0.12's ``icevision.utils.imageio``."""

from __future__ import annotations

from .._faces import SHOW, not_offered
from pathlib import Path

from ..compat import get_img_size
from ..images import open_img
from ..records import ImgSize

__all__ = ["ImgSize", "open_img", "get_image_size", "get_img_size"]


def get_image_size(filepath: str | Path) -> tuple[int, int]:
    """``(width, height)`` of an image file (IceVision's older name for
    [`get_img_size`][efficientdet_adapter.compat.get_img_size])."""
    size = get_img_size(filepath)
    return size.width, size.height

NOT_OFFERED: dict[str, str] = {
    **dict.fromkeys(['plot_grid', 'show_img'], SHOW),
}
__getattr__ = not_offered(__name__, NOT_OFFERED)
