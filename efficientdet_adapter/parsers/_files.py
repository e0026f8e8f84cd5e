"""Listing an image folder and reading image sizes from headers, for the parsers."""

from __future__ import annotations

from pathlib import Path

from efficientdet_adapter.base.errors import ImageLoadError, ParseError
from efficientdet_adapter.records.images import list_image_files, pil_orientation, regular_file, swaps_sides

__all__ = ["list_images", "displayed_size"]


def list_images(folder: Path) -> list[Path]:
    """The image files directly inside ``folder``, sorted by name (the rules of
    [`list_image_files`][efficientdet_adapter.records.images.list_image_files]: any suffix case, no
    dot-files).

    Raises:
        ParseError: when ``folder`` is not a directory.

    Example:
        >>> list_images(Path("export/train"))  # doctest: +SKIP
        [PosixPath('export/train/a.jpg'), PosixPath('export/train/b.png')]
    """
    if not folder.is_dir():
        raise ParseError(f"image folder {folder} does not exist or is not a folder")
    return list_image_files(folder)


def displayed_size(path: Path) -> tuple[int, int]:
    """``(width, height)`` of the image as loaded (EXIF rotation applied), from the header only.

    Formats without sizes in the annotations (YOLO, images without rows in a CSV) use this, so
    that boxes relate to the pixels
    [`Record.load_image`][efficientdet_adapter.records.record.Record.load_image] returns.
    """
    from PIL import Image, UnidentifiedImageError  # noqa: PLC0415

    try:
        regular_file(Path(path))  # a FIFO would block Image.open forever
    except ImageLoadError as e:
        raise ParseError(str(e)) from None
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
