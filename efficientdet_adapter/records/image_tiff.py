"""High-bit-depth and float TIFF files, which Pillow cannot convert to RGB: read by OpenCV, or
from the raw strip when OpenCV cannot either (`images.open_img` calls `read_tiff`, then
makes the array RGB uint8)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from efficientdet_adapter.base.errors import ImageLoadError

__all__ = ["read_tiff"]


def read_tiff(path: Path, fallback: Image.Image | None) -> np.ndarray:
    """A TIFF's pixels in their stored dtype (Pillow loses signedness and multi-band depth).

    Uncompressed, interleaved TIFFs (what GIS and lab tools write) are read straight from their
    strips with numpy; others go through OpenCV, which is refused if it drops bands.
    """
    import cv2  # noqa: PLC0415

    layout = _tiff_layout(path)
    arr = _read_raw_tiff(path, layout) if layout is not None else None
    if arr is None:
        arr = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
        bands = layout["bands"] if layout else None
        got = None if arr is None else (1 if arr.ndim == 2 else arr.shape[2])
        if arr is not None and bands is not None and got != bands:
            raise ImageLoadError(
                f"{path}: TIFF with {bands} bands of which OpenCV reads {got}; save it "
                f"uncompressed or as an 8-bit RGB image"
            )
        if arr is not None and arr.ndim == 3 and arr.shape[2] in (3, 4):  # OpenCV gives BGR(A)
            arr = arr[..., [2, 1, 0, 3][: arr.shape[2]]]
    if arr is None:
        if fallback is None:
            raise ImageLoadError(f"{path}: neither Pillow nor OpenCV can read this TIFF")
        arr = np.asarray(fallback)
    return arr


def _tiff_layout(path: Path) -> dict | None:
    """The first IFD's geometry and sample type, or ``None`` if the header cannot be parsed."""
    from PIL.TiffImagePlugin import ImageFileDirectory_v2  # noqa: PLC0415

    try:
        with open(path, "rb") as f:
            ifd = ImageFileDirectory_v2(f.read(8))
            f.seek(ifd.next)
            ifd.load(f)
        bits = tuple(ifd.get(258, (1,)))
        formats = tuple(ifd.get(339, (1,) * len(bits)))
        return {
            "width": int(ifd[256]),
            "height": int(ifd[257]),
            "bands": int(ifd.get(277, 1)),
            "bits": bits,
            "format": formats[0],
            "compression": int(ifd.get(259, 1)),
            "planar": int(ifd.get(284, 1)),
            "offsets": tuple(ifd.get(273, ())),
            "counts": tuple(ifd.get(279, ())),
            "endian": ifd._endian,
        }
    except Exception:  # not a classic TIFF header (BigTIFF, garbage): let OpenCV try
        return None


def _read_raw_tiff(path: Path, layout: dict) -> np.ndarray | None:
    """Pixels of an uncompressed, interleaved TIFF with equal sample types; else ``None``."""
    kinds = {1: "u", 2: "i", 3: "f"}
    bits = layout["bits"]
    if (
        layout["compression"] != 1
        or (layout["planar"] != 1 and layout["bands"] > 1)
        or len(set(bits)) != 1
        or bits[0] not in (8, 16, 32, 64)
        or layout["format"] not in kinds
        or not layout["offsets"]
        or len(layout["offsets"]) != len(layout["counts"])
    ):
        return None
    dtype = np.dtype(f"{layout['endian']}{kinds[layout['format']]}{bits[0] // 8}")
    h, w, bands = layout["height"], layout["width"], layout["bands"]
    with open(path, "rb") as f:
        chunks = []
        for offset, count in zip(layout["offsets"], layout["counts"]):
            f.seek(offset)
            chunks.append(f.read(count))
    data = b"".join(chunks)
    needed = h * w * bands * dtype.itemsize
    if len(data) < needed:
        raise ImageLoadError(f"{path}: TIFF is truncated ({len(data)} of {needed} pixel bytes)")
    arr = np.frombuffer(data[:needed], dtype=dtype).reshape(h, w, bands)
    return arr.astype(dtype.newbyteorder("="))
