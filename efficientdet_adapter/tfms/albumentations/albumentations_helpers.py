"""IceVision 0.12's ``icevision.tfms.albumentations.albumentations_helpers``."""

from __future__ import annotations

from typing import Any

import numpy as np

from efficientdet_adapter.tfms.albumentations_adapter import aug_tfms, resize, resize_and_pad

__all__ = ["aug_tfms", "resize", "resize_and_pad", "get_transform", "get_size_without_padding"]
NOT_OFFERED: dict[str, str] = {}


def get_transform(tfms_list: list[Any], name: str) -> Any:
    """The first transform of ``tfms_list`` whose class name contains ``name``, or ``None``."""
    return next((t for t in tfms_list if name in type(t).__name__), None)


def _resized(height: int, width: int, size: int, side: Any) -> tuple[int, int]:
    """``(height, width)`` scaled so that ``side(height, width) == size``, rounded as
    albumentations rounds (halves to even)."""
    scale = size / float(side(width, height))
    if scale == 1.0:
        return height, width
    return int(round(height * scale)), int(round(width * scale))


def get_size_without_padding(tfms_list: list[Any], before_tfm_img: Any, height: int,
                             width: int) -> tuple[int, int]:
    """The ``(height, width)`` of the image inside a transformed one of ``height x width``, once
    the padding is taken away: the original image's size after the list's resizes
    (``SmallestMaxSize``, then ``LongestMaxSize``); ``(height, width)`` when nothing pads.

    Example:
        >>> import PIL.Image
        >>> from efficientdet_adapter import tfms
        >>> img = PIL.Image.new("RGB", (10, 15))
        >>> get_size_without_padding([*tfms.A.resize_and_pad(20)], img, 20, 20)
        (20, 13)
    """
    if get_transform(tfms_list, "Pad") is None:
        return height, width
    h, w = np.asarray(before_tfm_img).shape[:2]
    for name, side in (("SmallestMaxSize", min), ("LongestMaxSize", max)):
        t = get_transform(tfms_list, name)
        if t is not None:
            size = t.max_size if isinstance(t.max_size, int) else t.max_size[0]
            height, width = _resized(h, w, size, side)
    return height, width
