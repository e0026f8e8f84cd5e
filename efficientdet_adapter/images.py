"""Reading image files: sizes from headers, and pixels as HxWx3 uint8 RGB arrays."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from .errors import ImageLoadError

__all__ = ["open_img", "image_size", "exif_orientation"]


def image_size(path: str | Path) -> tuple[int, int]:
    """``(width, height)`` as stored in the file header, without decoding the pixels.

    EXIF orientation is not applied: this is the size of the stored pixel grid.
    """
    try:
        with Image.open(path) as im:
            return im.size
    except FileNotFoundError:
        raise ImageLoadError(f"{path}: image file not found") from None
    except (UnidentifiedImageError, OSError) as e:
        raise ImageLoadError(f"{path}: not a readable image ({e})") from None


def exif_orientation(path: str | Path) -> int:
    """The EXIF orientation tag (1..8) of an image file; 1 when it has none."""
    try:
        with Image.open(path) as im:
            return int(im.getexif().get(0x0112, 1) or 1)
    except (UnidentifiedImageError, OSError):
        return 1


def open_img(path: str | Path) -> np.ndarray:
    """The image at ``path`` as an HxWx3 uint8 RGB array, with EXIF orientation applied."""
    try:
        with Image.open(path) as im:
            im = ImageOps.exif_transpose(im)
            return np.asarray(im.convert("RGB"))
    except FileNotFoundError:
        raise ImageLoadError(f"{path}: image file not found") from None
    except (UnidentifiedImageError, OSError, SyntaxError) as e:
        raise ImageLoadError(f"{path}: cannot decode image ({e})") from None
