"""Reading image files: sizes from headers, and pixels as HxWx3 uint8 RGB arrays.

Every image the library hands on is an ``HxWx3`` ``uint8`` RGB array with EXIF orientation
applied, whatever the file held. The conversions, decided once here:

- **grayscale, bilevel, palette, CMYK, YCbCr**: converted to RGB by Pillow.
- **alpha** (RGBA, LA, palette with transparency): composited **on white**, which is what a
  labeling tool or a browser showed the annotator; dropping alpha instead would show whatever
  colour the transparent pixels happen to store (often black).
- **high bit depth** (16-bit PNG/TIFF, signed, 32-bit and float TIFF), see
  [`to_uint8`][efficientdet_adapter.records.images.to_uint8]:
  8- and 16-bit integers are scaled by their **dtype range** (so a 16-bit dataset keeps one
  brightness scale across images); 32-bit integers and floats have no natural range and are
  **min-max** scaled per image over their finite values (NaN and inf become 0).
- **more than 4 bands** (multispectral): refused with
  [`ImageLoadError`][efficientdet_adapter.base.errors.ImageLoadError].
- **truncated or corrupt files**: [`ImageLoadError`][efficientdet_adapter.base.errors.ImageLoadError]
  naming the file. Pillow's
  ``ImageFile.LOAD_TRUNCATED_IMAGES`` would hide truncation (the missing part decodes grey);
  if some other code switched it on, a warning says so once.

JPEG files take a fast path: OpenCV's libjpeg-turbo decoder straight to RGB (about 10-20% faster
than Pillow, and bit-identical to it: same library, same settings). It is used only for complete
(EOI-terminated) 8-bit RGB or grayscale JPEGs; anything else goes through Pillow.
"""

from __future__ import annotations

import logging
import os
import stat
import threading
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image, ImageFile, ImageOps, UnidentifiedImageError

from efficientdet_adapter.base.errors import ImageLoadError

__all__ = ["IMAGENET_MEAN", "IMAGENET_STD", "open_img", "image_size", "decompression_bomb_error",
           "exif_orientation", "pil_orientation", "swaps_sides", "oriented_size", "to_rgb",
           "to_uint8", "IMAGE_EXTENSIONS", "is_image_name", "list_image_files",
           "header_pixels", "check_pixels", "regular_file"]

logger = logging.getLogger(__name__)

#: ImageNet's RGB statistics (0-1 scale): the one home of the normalization most backbones use.
IMAGENET_MEAN: tuple[float, float, float] = (0.485, 0.456, 0.406)
IMAGENET_STD: tuple[float, float, float] = (0.229, 0.224, 0.225)

#: File suffixes (lower case) taken for images when a folder is listed: the one list of them.
IMAGE_EXTENSIONS: tuple[str, ...] = (
    ".jpg", ".jpeg", ".png", ".bmp", ".gif", ".tif", ".tiff", ".webp"
)

_ORIENTATION_TAG = 0x0112
_SAMPLE_FORMAT_TAG = 339  # TIFF SampleFormat: 1 unsigned int, 2 signed int, 3 float
_TIFF_SUFFIXES = (".tif", ".tiff")
_HIGH_DEPTH_MODES = ("I;16", "I;16L", "I;16B", "I;16N", "I", "F")
_ALPHA_MODES = ("RGBA", "LA", "PA", "RGBa", "La")
_JPEG_EOI = b"\xff\xd9"
_warned_truncated_flag = False
_BOMB_CHECK_OFF = threading.Lock()


# -- listing --------------------------------------------------------------------------------
def is_image_name(name: str) -> bool:
    """Whether a file name is taken for an image when a folder is listed: its suffix, in any
    case, is one of `IMAGE_EXTENSIONS`, and it does not start with ``.``.

    Example:
        >>> is_image_name("a.JPG"), is_image_name("._a.jpg"), is_image_name("a.txt")
        (True, False, False)
    """
    return not name.startswith(".") and os.path.splitext(name)[1].lower() in IMAGE_EXTENSIONS


def list_image_files(folder: str | os.PathLike, *, recurse: bool = False) -> list[Path]:
    """The image files in ``folder``, sorted: the one folder lister of the library.

    The parsers (``recurse=False``), IceVision's ``get_image_files`` and the CLI's ``predict``
    (``recurse=True``) all list images with it, by these rules:

    * an image is a file whose suffix, in any case, is in `IMAGE_EXTENSIONS`
      (``a.JPG`` counts);
    * names starting with ``.`` are skipped: hidden files (macOS's ``._a.jpg`` copies are
      metadata, not images) and, when recursing, hidden folders (``.git``,
      ``.ipynb_checkpoints``);
    * ``recurse=False`` lists the files directly inside ``folder``; ``recurse=True`` also those of
      its sub-folders, without following symlinked folders (no loops; a symlinked file counts);
    * an image-named entry that is not a regular file (a FIFO, a symbolic link loop) is listed,
      and refused with one line naming it when it is read (never dropped silently);
    * the result is sorted by path (one folder's files by name).

    Raises:
        ImageLoadError: ``folder`` is not a folder (named in the message).

    Example:
        >>> list_image_files("export/train")  # doctest: +SKIP
        [PosixPath('export/train/a.jpg'), PosixPath('export/train/b.PNG')]
    """
    root = Path(folder)
    if not root.is_dir():
        raise ImageLoadError(f"{root}: not a folder; pass the folder that holds the images")
    found: list[Path] = []
    pending = [root]
    while pending:
        with os.scandir(pending.pop()) as entries:
            for entry in entries:
                if entry.name.startswith("."):
                    continue
                if is_image_name(entry.name) and not _is_dir(entry):
                    found.append(Path(entry.path))  # a FIFO or a link loop: refused when read
                elif recurse and entry.is_dir(follow_symlinks=False):
                    pending.append(Path(entry.path))
    return sorted(found)


def _is_dir(entry: os.DirEntry) -> bool:
    try:
        return entry.is_dir()
    except OSError:  # a symbolic link loop
        return False


def regular_file(path: str | os.PathLike) -> None:
    """Refuse, before opening it, what is not a regular file: opening a FIFO would wait for a
    writer forever, and a symbolic link loop is no file at all.

    Raises:
        ImageLoadError: missing, a link loop, a FIFO, a socket, a device or a folder (named).
    """
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        raise ImageLoadError(f"{path}: image file not found") from None
    except OSError as e:
        raise ImageLoadError(f"{path}: cannot be opened ({e.strerror}; a symbolic link loop?); "
                             "fix or remove the link") from None
    if not stat.S_ISREG(mode):
        kind = ("a folder" if stat.S_ISDIR(mode) else "a FIFO (named pipe)"
                if stat.S_ISFIFO(mode) else "a socket" if stat.S_ISSOCK(mode) else "a device")
        raise ImageLoadError(f"{path}: is {kind}, not an image file; remove it or give the image "
                             "files")


# -- headers --------------------------------------------------------------------------------
def image_size(path: str | Path) -> tuple[int, int]:
    """``(width, height)`` as stored in the file header, without decoding the pixels.

    EXIF orientation is not applied: this is the size of the stored pixel grid (see
    [`oriented_size`][efficientdet_adapter.records.images.oriented_size] for the size
    [`open_img`][efficientdet_adapter.records.images.open_img] returns).
    """
    regular_file(Path(path))
    try:
        with Image.open(path) as im:
            return im.size
    except FileNotFoundError:
        raise ImageLoadError(f"{path}: image file not found") from None
    except Image.DecompressionBombError as e:
        raise decompression_bomb_error(path, e) from None
    except (UnidentifiedImageError, OSError) as e:
        raise ImageLoadError(f"{path}: not a readable image ({e})") from None


def header_pixels(path: str | Path) -> tuple[int, int]:
    """``(width, height)`` from the header even above Pillow's decompression-bomb limit (reading
    a header decodes no pixel); for a guard that judges the size itself
    ([`check_pixels`][efficientdet_adapter.records.images.check_pixels])."""
    regular_file(Path(path))
    with _BOMB_CHECK_OFF:
        limit, Image.MAX_IMAGE_PIXELS = Image.MAX_IMAGE_PIXELS, None
        try:
            return image_size(path)
        finally:
            Image.MAX_IMAGE_PIXELS = limit


def check_pixels(files: Sequence[str | Path], limit: int, option: str = "max_pixels") -> None:
    """Refuse, by their headers and before any decoding, images of more than ``limit`` pixels
    (memory grows with them, about 30 bytes a pixel in prediction). Unreadable files are left
    to the reader, which names them.

    Raises:
        ImageLoadError: the first image above ``limit`` (named, with its size and the fix).
    """
    for f in files:
        try:
            w, h = header_pixels(f)
        except ImageLoadError:
            continue
        if w * h > limit:
            raise ImageLoadError(
                f"{f}: {w}x{h} = {w * h / 1e6:.1f} Mpx, more than {option} {limit} "
                f"({limit / 1e6:g} Mpx); memory grows with the pixels (about 30 bytes each): "
                f"raise {option} to {w * h} if the machine has the memory, or resize it")
    # Pillow warns (and above twice its limit refuses) on open: files allowed here are not bombs
    Image.MAX_IMAGE_PIXELS = max(Image.MAX_IMAGE_PIXELS or 0, limit)


def decompression_bomb_error(path: str | Path, e: Exception) -> ImageLoadError:
    """The error for a header whose pixel count exceeds Pillow's limit, naming the file."""
    return ImageLoadError(
        f"{path}: {e} Raise PIL.Image.MAX_IMAGE_PIXELS if you trust this file, or resize it"
    )


def exif_orientation(path: str | Path) -> int:
    """The EXIF orientation tag (1..8) of an image file; 1 when it has none."""
    try:
        with Image.open(path) as im:
            return pil_orientation(im)
    except (UnidentifiedImageError, OSError, Image.DecompressionBombError):
        return 1  # image_size / open_img report an unreadable file, naming it


def oriented_size(path: str | Path) -> tuple[int, int]:
    """``(width, height)`` of the image [`open_img`][efficientdet_adapter.records.images.open_img] returns
    (EXIF rotation applied).

    Example:
        >>> oriented_size("portrait_phone_photo.jpg")  # stored 4032x3024, EXIF orientation 6
        (3024, 4032)
    """
    w, h = image_size(path)
    return (h, w) if swaps_sides(exif_orientation(path)) else (w, h)


def pil_orientation(im: Image.Image) -> int:
    """The EXIF orientation tag (1..8) of an open Pillow image; 1 when it has none or it is
    malformed (the one place that reads the tag)."""
    try:
        value = int(im.getexif().get(_ORIENTATION_TAG, 1) or 1)
    except Exception:  # a malformed EXIF block must not make the image unreadable
        return 1
    return value if 1 <= value <= 8 else 1


def swaps_sides(orientation: int) -> bool:
    """Whether EXIF ``orientation`` turns the image by 90 degrees (5..8): width and height swap.

    Example:
        >>> swaps_sides(6), swaps_sides(3)
        (True, False)
    """
    return orientation in (5, 6, 7, 8)


# -- pixels ---------------------------------------------------------------------------------
def open_img(path: str | Path) -> np.ndarray:
    """The image at ``path`` as an HxWx3 uint8 RGB array, with EXIF orientation applied.

    Args:
        path: any image file Pillow reads, plus high bit-depth TIFFs that only OpenCV reads.

    Raises:
        ImageLoadError: the file is missing, truncated, corrupt, or of an unusable pixel type;
            the message names the file.

    Example:
        >>> img = open_img("photo.jpg")
        >>> img.shape, img.dtype
        ((480, 640, 3), dtype('uint8'))
    """
    path = Path(path)
    _warn_if_truncated_images_allowed()
    regular_file(path)
    try:
        with Image.open(path) as im:
            orientation = pil_orientation(im)
            if im.format == "JPEG" and im.mode in ("RGB", "L"):
                fast = _decode_jpeg_cv2(path)
                if fast is not None:
                    return _apply_orientation(fast, orientation)
            if im.format == "TIFF" and _is_high_depth_tiff(im):
                return _apply_orientation(_open_tiff(path, fallback=im), orientation)
            return _pil_to_rgb(ImageOps.exif_transpose(im), path)
    except FileNotFoundError:
        raise ImageLoadError(f"{path}: image file not found") from None
    except UnidentifiedImageError as e:
        if path.suffix.lower() in _TIFF_SUFFIXES:  # e.g. 3-band int16/float TIFFs
            return _open_tiff(path, fallback=None)
        raise ImageLoadError(f"{path}: not a readable image ({e})") from None
    except Image.DecompressionBombError as e:
        raise decompression_bomb_error(path, e) from None
    except (OSError, SyntaxError, ValueError) as e:
        if isinstance(e, ImageLoadError):
            raise
        raise ImageLoadError(f"{path}: cannot decode image, truncated or corrupt? ({e})") from None


def _warn_if_truncated_images_allowed() -> None:
    global _warned_truncated_flag
    if ImageFile.LOAD_TRUNCATED_IMAGES and not _warned_truncated_flag:
        _warned_truncated_flag = True
        logger.warning(
            "PIL.ImageFile.LOAD_TRUNCATED_IMAGES is True (set by other code): truncated images "
            "will load with grey areas instead of raising ImageLoadError"
        )


def _decode_jpeg_cv2(path: Path) -> np.ndarray | None:
    """OpenCV decode of a complete JPEG, or ``None`` to let Pillow handle (and judge) it."""
    import cv2  # noqa: PLC0415

    data = np.fromfile(path, dtype=np.uint8)
    # libjpeg only warns on a missing end: demand the EOI marker so truncation reaches Pillow
    if data.size < 4 or data[-2:].tobytes() != _JPEG_EOI:
        return None
    return cv2.imdecode(data, cv2.IMREAD_COLOR_RGB | cv2.IMREAD_IGNORE_ORIENTATION)


def _apply_orientation(img: np.ndarray, orientation: int) -> np.ndarray:
    """``img`` turned as Pillow's ``ImageOps.exif_transpose`` turns it for an EXIF tag."""
    if orientation == 1:
        return img
    turned = {
        2: lambda a: a[:, ::-1],
        3: lambda a: a[::-1, ::-1],
        4: lambda a: a[::-1],
        5: lambda a: a.swapaxes(0, 1),
        6: lambda a: np.rot90(a, -1),
        7: lambda a: a[::-1, ::-1].swapaxes(0, 1),
        8: lambda a: np.rot90(a, 1),
    }[orientation](img)
    return np.ascontiguousarray(turned)


def _open_tiff(path: Path, fallback: Image.Image | None) -> np.ndarray:
    """A high-depth TIFF read by [`image_tiff`][efficientdet_adapter.records.image_tiff], as RGB uint8."""
    from efficientdet_adapter.records.image_tiff import read_tiff  # noqa: PLC0415

    return to_rgb(read_tiff(path, fallback), name=str(path))


def _is_high_depth_tiff(im: Image.Image) -> bool:
    sample_format = im.tag_v2.get(_SAMPLE_FORMAT_TAG, 1) if hasattr(im, "tag_v2") else 1
    if isinstance(sample_format, tuple):
        sample_format = sample_format[0]
    return im.mode in _HIGH_DEPTH_MODES or sample_format != 1


def _pil_to_rgb(im: Image.Image, path: Path) -> np.ndarray:
    if im.mode in _HIGH_DEPTH_MODES:
        return to_rgb(np.asarray(im), name=str(path))
    if im.mode == "P" and "transparency" in im.info:
        im = im.convert("RGBA")
    if im.mode in _ALPHA_MODES:
        return _composite_on_white(np.asarray(im.convert("RGBA")))
    if im.mode != "RGB":
        im = im.convert("RGB")
    return np.asarray(im)


def _composite_on_white(rgba: np.ndarray) -> np.ndarray:
    rgb = rgba[..., :3].astype(np.uint16)
    alpha = rgba[..., 3:4].astype(np.uint16)
    return ((rgb * alpha + 255 * (255 - alpha) + 127) // 255).astype(np.uint8)


# -- arrays -> RGB uint8 ------------------------------------------------------------------
def to_uint8(arr: np.ndarray, *, name: str = "array") -> np.ndarray:
    """Pixel values of any integer or float dtype mapped onto 0..255 (``uint8``).

    8- and 16-bit integers (signed or not) are scaled by their dtype range (``uint16`` 65535 ->
    255, ``int8`` -128 -> 0); 32/64-bit integers and floats are min-max scaled over their finite
    values, with NaN and inf mapped to 0.

    Raises:
        ImageLoadError: for a dtype that is not a pixel type, or no finite value at all.

    Example:
        >>> to_uint8(np.array([[0, 65535]], dtype=np.uint16)).tolist()
        [[0, 255]]
    """
    if arr.dtype == np.uint8:
        return arr
    if arr.dtype == np.bool_:
        return arr.astype(np.uint8) * 255
    if arr.dtype.kind in "iu" and arr.dtype.itemsize <= 2:
        info = np.iinfo(arr.dtype)
        shifted = arr.astype(np.int64) - info.min
        span = int(info.max) - int(info.min)
        return ((shifted * 255 + span // 2) // span).astype(np.uint8)
    if arr.dtype.kind in "iuf":
        values = arr.astype(np.float64)
        finite = np.isfinite(values)
        if not finite.any():
            raise ImageLoadError(f"{name}: image has no finite pixel value ({arr.dtype})")
        lo, hi = values[finite].min(), values[finite].max()
        scaled = np.zeros_like(values) if hi == lo else (values - lo) * (255.0 / (hi - lo))
        scaled[~finite] = 0
        return np.rint(scaled).astype(np.uint8)
    raise ImageLoadError(
        f"{name}: pixel type {arr.dtype} is not an image type; convert it to uint8 RGB first"
    )


def to_rgb(arr: np.ndarray, *, name: str = "array") -> np.ndarray:
    """Any HxW, HxWx1, HxWx2 (gray+alpha), HxWx3 or HxWx4 (RGBA) array as HxWx3 uint8 RGB.

    Values go through [`to_uint8`][efficientdet_adapter.records.images.to_uint8]; alpha is composited on
    white (see the module docs).

    Raises:
        ImageLoadError: for other shapes, for example a multispectral image with 5 bands.

    Example:
        >>> to_rgb(np.zeros((4, 5), np.uint8)).shape
        (4, 5, 3)
    """
    arr = np.asarray(arr)
    if arr.ndim == 3 and arr.shape[2] == 1:
        arr = arr[..., 0]
    if arr.ndim == 2:
        gray = to_uint8(arr, name=name)
        return np.repeat(gray[..., None], 3, axis=2)
    if arr.ndim != 3 or arr.shape[2] not in (2, 3, 4):
        raise ImageLoadError(
            f"{name}: image of shape {arr.shape} is not HxW, HxWx3 or HxWx4; convert it to RGB "
            f"first (for a multispectral image, pick 3 bands)"
        )
    arr = to_uint8(arr, name=name)
    if arr.shape[2] == 2:
        arr = np.concatenate([np.repeat(arr[..., :1], 3, axis=2), arr[..., 1:]], axis=2)
    if arr.shape[2] == 4:
        return _composite_on_white(arr)
    return np.ascontiguousarray(arr)
