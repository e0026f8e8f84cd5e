"""Does an image's real size match the size its annotation states? One rule, applied twice.

COCO's ``width``/``height``, VOC's ``<size>`` and the CSV's columns state the size of the image the
boxes were drawn on. When the file on disk is another size, the boxes would land on the wrong
pixels without a word. `fit_record` compares the two and, where there is exactly one
reading of what happened, fixes the record (a copy) and says so; otherwise it raises:

1. **EXIF rotation** (orientations 5-8 turn the image a quarter): the annotation states the
   *stored* size, so the boxes were drawn on the raw, unrotated pixels, while
   [`open_img`][efficientdet_adapter.records.images.open_img] returns the rotated image. The boxes are
   turned
   the same way as the pixels. (Orientations 2-4 keep the size: nothing shows them; strip the tag
   or re-export with auto-orient if such boxes look mirrored.)
2. **Resized image**, same aspect ratio within 1% (the image was re-exported at another
   resolution after annotating): the boxes are scaled to the real size.
3. Anything else (another aspect ratio):
   [`ImageLoadError`][efficientdet_adapter.base.errors.ImageLoadError]
   naming the file and both sizes.

The parsers apply it with ``check_images=True`` (CLI ``--check-images``), counting each fix in
their [`ParseReport`][efficientdet_adapter.parsers.base.ParseReport] (and dropping, with
``autofix``, the
records of case 3). [`Dataset`][efficientdet_adapter.records.dataset.Dataset] applies it whenever it decodes
an image, so a batch never holds boxes on the wrong pixels even without the check: each fix is
logged once per file and counted in `BATCH_FIXES` (per process).
"""

from __future__ import annotations

import logging
from collections import Counter
from pathlib import Path

from efficientdet_adapter.records.bbox import BBox
from efficientdet_adapter.base.errors import ImageLoadError
from efficientdet_adapter.records.record import Geometry, ImgSize, Record

__all__ = ["fit_record", "orient_box", "EXIF_ROTATION", "RESIZED", "BATCH_FIXES",
           "ASPECT_TOLERANCE"]

logger = logging.getLogger(__name__)

EXIF_ROTATION = "boxes turned with the image's EXIF rotation (annotated on the raw pixels)"
RESIZED = "boxes scaled: the image was resized since it was annotated"
ASPECT_TOLERANCE = 0.01
BATCH_FIXES: Counter = Counter()  # reason -> records fixed while building batches (this process)
_warned: set[tuple[str, str]] = set()


def orient_box(box: BBox, orientation: int, width: int, height: int) -> BBox:
    """``box`` on a stored ``width`` x ``height`` image, moved as EXIF ``orientation`` moves the
    pixels (as [`open_img`][efficientdet_adapter.records.images.open_img] turns them).

    Example:
        >>> orient_box(BBox.from_xyxy(0, 0, 10, 20), 6, width=100, height=50).xyxy  # 90° cw
        (30.0, 0.0, 50.0, 10.0)
    """
    x0, y0, x1, y1 = box.xyxy
    w, h = float(width), float(height)
    if orientation == 2:
        return BBox.from_xyxy(w - x1, y0, w - x0, y1)
    if orientation == 3:
        return BBox.from_xyxy(w - x1, h - y1, w - x0, h - y0)
    if orientation == 4:
        return BBox.from_xyxy(x0, h - y1, x1, h - y0)
    if orientation == 5:
        return BBox.from_xyxy(y0, x0, y1, x1)
    if orientation == 6:
        return BBox.from_xyxy(h - y1, x0, h - y0, x1)
    if orientation == 7:
        return BBox.from_xyxy(h - y1, w - x1, h - y0, w - x0)
    if orientation == 8:
        return BBox.from_xyxy(y0, w - x1, y1, w - x0)
    return box


def _same_aspect(a: tuple[int, int], b: tuple[int, int]) -> bool:
    if min(*a, *b) <= 0:
        return False
    return abs((a[0] / a[1]) / (b[0] / b[1]) - 1.0) <= ASPECT_TOLERANCE


def fit_record(record: Record, width: int, height: int, orientation: int = 1
               ) -> tuple[Record, str | None]:
    """``record`` fitted to an image that loads as ``width`` x ``height`` (EXIF applied).

    Args:
        record: its ``width``/``height`` are what the annotation states.
        width, height: the size [`open_img`][efficientdet_adapter.records.images.open_img] returns.
        orientation: the file's EXIF orientation tag (1..8).

    Returns:
        ``(record, None)`` when the sizes agree; else ``(fixed copy, reason)`` with reason
        `EXIF_ROTATION` or `RESIZED` (see the module docs for the rule).

    Raises:
        ImageLoadError: the sizes differ in aspect ratio: no fix can be trusted.
    """
    stated = (int(record.width), int(record.height))
    shown = (int(width), int(height))
    if stated == shown:
        return record, None
    turns = orientation in (5, 6, 7, 8)
    stored = (shown[1], shown[0]) if turns else shown
    boxes, reason = list(record.bboxes), None
    frame = stated
    if turns and _same_aspect(stated, stored):  # drawn on the raw pixels: turn them too
        if stated != stored:  # and resized since: first scale to the stored size
            sx, sy = stored[0] / stated[0], stored[1] / stated[1]
            boxes = [BBox.from_xyxy(b.xmin * sx, b.ymin * sy, b.xmax * sx, b.ymax * sy)
                     for b in boxes]
        boxes = [orient_box(b, orientation, *stored) for b in boxes]
        frame, reason = shown, EXIF_ROTATION
    elif not _same_aspect(stated, shown):
        where = record.filepath if record.filepath is not None else f"record {record.record_id!r}"
        raise ImageLoadError(
            f"{where}: the annotation says {stated[0]}x{stated[1]} but the image is "
            f"{shown[0]}x{shown[1]}"
            + (f" (EXIF orientation {orientation}; stored {stored[0]}x{stored[1]})" if turns else "")
            + ", another aspect ratio, so its boxes cannot be placed; fix the annotation's size "
            "or replace the image (parse with check_images=True, CLI --check-images, to find "
            "all such files first)"
        )
    if frame != shown:  # same aspect ratio, another resolution
        sx, sy = shown[0] / frame[0], shown[1] / frame[1]
        boxes = [BBox.from_xyxy(b.xmin * sx, b.ymin * sy, b.xmax * sx, b.ymax * sy)
                 for b in boxes]
        reason = reason or RESIZED
    areas = record.areas
    if areas is not None:  # a quarter turn keeps the area; a resize scales it
        scale = (shown[0] * shown[1]) / float(stated[0] * stated[1])
        areas = [a * scale for a in areas]
    fixed = record.copy(bboxes=boxes, areas=areas)
    fixed.width, fixed.height = shown
    return fixed, reason


def fit_loaded(record: Record, img) -> Record:
    """``record`` fitted to its decoded image ``img`` (HxWx3), for a batch: a fix is counted in
    `BATCH_FIXES` and logged once per file; an impossible one raises ImageLoadError.

    A resize fix records its scale in ``geometry``, so predictions on the sample map back to the
    annotated size (an EXIF turn records none: predictions stay on the turned image)."""
    h, w = img.shape[:2]
    if (record.width, record.height) == (w, h):
        return record
    orientation = 1
    if record.filepath is not None:
        from efficientdet_adapter.records.images import exif_orientation  # noqa: PLC0415

        orientation = exif_orientation(record.filepath)
    fixed, reason = fit_record(record, w, h, orientation)
    if reason == RESIZED:  # the sample's pixels are a scaled copy of the annotated image
        fixed.geometry = Geometry(w / record.width, h / record.height, 0.0, 0.0,
                                  size=ImgSize(w, h), source=ImgSize(record.width, record.height))
    if reason is not None:
        BATCH_FIXES[reason] += 1
        key = (str(record.filepath), reason)
        if key not in _warned:
            _warned.add(key)
            logger.warning("%s: %s (annotation %dx%d, image %dx%d)",
                           Path(str(record.filepath)).name, reason, record.width, record.height,
                           w, h)
    return fixed
