"""Listing image files and reading their sizes from headers (shared by the YOLO and CSV parsers)."""

from __future__ import annotations

import os
from pathlib import Path

from ..errors import ParseError
from ..images import IMAGE_EXTENSIONS, pil_orientation, swaps_sides

__all__ = ["IMAGE_EXTENSIONS", "list_images", "displayed_size"]


def list_images(folder: Path) -> list[Path]:
    """The image files directly inside ``folder`` (by extension, any case), sorted by name.

    Raises:
        ParseError: when ``folder`` is not a directory.

    Example:
        >>> list_images(Path("export/train"))  # doctest: +SKIP
        [PosixPath('export/train/a.jpg'), PosixPath('export/train/b.png')]
    """
    if not folder.is_dir():
        raise ParseError(f"image folder {folder} does not exist or is not a folder")
    with os.scandir(folder) as entries:
        names = [
            e.name
            for e in entries
            if os.path.splitext(e.name)[1].lower() in IMAGE_EXTENSIONS and e.is_file()
        ]
    return [folder / name for name in sorted(names)]


def displayed_size(path: Path) -> tuple[int, int]:
    """``(width, height)`` of the image as loaded (EXIF rotation applied), from the header only.

    Formats without sizes in the annotations (YOLO, images without rows in a CSV) use this, so
    that boxes relate to the pixels :meth:`Record.load_image` returns.
    """
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as im:
            width, height = im.size
            orientation = pil_orientation(im)
    except FileNotFoundError:
        raise ParseError(f"{path}: image file not found") from None
    except Image.DecompressionBombError as e:
        raise ParseError(f"{path}: {e} Raise PIL.Image.MAX_IMAGE_PIXELS if you trust this "
                         "file, or resize it") from None
    except (UnidentifiedImageError, OSError) as e:
        raise ParseError(f"{path}: not a readable image ({e}); remove or replace it") from None
    return (height, width) if swaps_sides(orientation) else (width, height)
