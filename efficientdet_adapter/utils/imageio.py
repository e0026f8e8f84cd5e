"""IceVision 0.12's ``icevision.utils.imageio``: ``open_img`` gives a PIL image, as IceVision's.

The library's own loader,
[`efficientdet_adapter.records.images.open_img`][efficientdet_adapter.records.images.open_img], returns an HxWx3
uint8
array (what records, datasets and the model use); IceVision's name here wraps it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

import PIL.Image

from efficientdet_adapter.base.faces import SHOW, not_offered
from efficientdet_adapter.compat import get_img_size
from efficientdet_adapter.records.images import open_img as open_img_array
from efficientdet_adapter.records.record import ImgSize

__all__ = ["ImgSize", "open_img", "get_image_size", "get_img_size", "show_img"]


class ShapedImage(PIL.Image.Image):
    """A PIL image that also tells its ``shape`` as an array would have it (``(H, W)`` or
    ``(H, W, C)`` without the channels of a one-band image), which IceVision's code read."""

    @property
    def shape(self) -> tuple[int, ...]:
        return (self.height, self.width)


def open_img(fn: str | Path, gray: bool = False) -> PIL.Image.Image:
    """IceVision's ``open_img``: the image file as a PIL image, RGB (``gray=True``: one band,
    "L"), EXIF orientation applied; it also has IceVision's ``.shape`` (``(height, width)``).

    Example:
        >>> img = open_img("photo.jpg")  # doctest: +SKIP
        >>> img.size, img.shape, np.asarray(img).shape  # doctest: +SKIP
        ((640, 480), (480, 640), (480, 640, 3))
    """
    img = PIL.Image.fromarray(open_img_array(fn))
    if gray:
        img = img.convert("L")
    img.__class__ = ShapedImage  # a plain PIL image: only the shape property is added
    return img


def show_img(img: Any, ax: Any = None, show: bool = False, **kwargs: Any) -> Any:
    """IceVision's ``show_img``: ``img`` (an array or PIL image) on matplotlib axes, without
    axis ticks; ``show=True`` calls ``plt.show()``. Returns the axes."""
    import matplotlib.pyplot as plt  # noqa: PLC0415

    ax = ax or plt.subplots(**({"figsize": kwargs.pop("figsize")} if "figsize" in kwargs
                               else {}))[1]
    ax.imshow(np.asarray(img), **kwargs)
    ax.set_axis_off()
    if show:
        plt.show()
    return ax


def get_image_size(filepath: str | Path) -> tuple[int, int]:
    """``(width, height)`` of an image file (IceVision's older name for
    [`get_img_size`][efficientdet_adapter.compat.get_img_size])."""
    size = get_img_size(filepath)
    return size.width, size.height


NOT_OFFERED: dict[str, str] = {
    **dict.fromkeys(['plot_grid'], SHOW),
}
__getattr__ = not_offered(__name__, NOT_OFFERED)
