"""The embedded demo data: a small synthetic detection dataset, written as a Roboflow export.

Real JPEG files of varied sizes and aspect ratios; four classes of filled shapes (circle,
square, triangle, star) in varied saturated colors, sizes and rotations, on muted backgrounds
(gradients, smooth noise, stripes); some objects overlap; every tenth image has no objects.
Boxes are exact and tight: each shape is a polygon whose vertex extent is its box (decimal
pixel coordinates), and it is drawn 4x supersampled, so the drawn edge is within 1/8 px of it.
The same seed writes byte-identical files. Only PIL and numpy are used.

Example:
    >>> root = write_demo_dataset("demo_data", num_images=96, seed=0, format="coco")
    >>> train, valid, test = RoboflowParser(root).parse()

Command line: ``efficientdet-adapter demo --data-only --out OUT_DIR [--format coco] [--num-images N]``.
"""

from __future__ import annotations

import colorsys
import hashlib
import io
import logging
import math
import shutil
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from efficientdet_adapter.records.bbox import BBox
from efficientdet_adapter.records.class_map import ClassMap
from efficientdet_adapter.records.record import Record
from efficientdet_adapter.parsers.formats import SPLIT_NAMES, YOLO_DATA_FILES
from efficientdet_adapter.parsers.writers import EXPORT_FORMATS, image_dir, write_export
from efficientdet_adapter.base.errors import ArgumentError, PathExistsError

__all__ = ["DEMO_CLASSES", "demo_class_map", "demo_records", "write_demo_dataset", "split_summary"]

logger = logging.getLogger(__name__)

DEMO_CLASSES = ("circle", "square", "star", "triangle")  # alphabetical, as Roboflow orders classes
_SUPERSAMPLE = 4
_MIN_OBJECT = 20.0  # smallest box side in pixels
_NEGATIVE_EVERY = 10  # image i is a negative when i % 10 == 5
_MARKER = "README.dataset.txt"
_MARKER_TEXT = "Synthetic shapes dataset written by efficientdet_adapter.app.demo"


def demo_class_map() -> ClassMap:
    """The demo's class map: background + `DEMO_CLASSES`."""
    return ClassMap(list(DEMO_CLASSES))


# -- geometry -----------------------------------------------------------------------------------
def _unit_polygon(kind: str, angle: float) -> np.ndarray:
    """Vertices ``[K, 2]`` of a shape of circumradius 1 centred at 0, rotated by ``angle``."""
    if kind == "circle":
        t = np.linspace(0.0, 2 * math.pi, 48, endpoint=False)
        radii = np.ones_like(t)
    elif kind == "square":
        t = np.arange(4) * (math.pi / 2) + math.pi / 4
        radii = np.ones_like(t)
    elif kind == "triangle":
        t = np.arange(3) * (2 * math.pi / 3) - math.pi / 2
        radii = np.ones_like(t)
    elif kind == "star":
        t = np.arange(10) * (math.pi / 5) - math.pi / 2
        radii = np.where(np.arange(10) % 2 == 0, 1.0, 0.45)
    else:
        raise ArgumentError(f"unknown demo shape {kind!r}; choose one of {DEMO_CLASSES}")
    t = t + angle
    return np.stack([radii * np.cos(t), radii * np.sin(t)], axis=1)


def _iou_and_cover(a: BBox, b: BBox) -> tuple[float, float]:
    """IoU of two boxes, and the intersection over the smaller box's area."""
    iw = min(a.xmax, b.xmax) - max(a.xmin, b.xmin)
    ih = min(a.ymax, b.ymax) - max(a.ymin, b.ymin)
    if iw <= 0 or ih <= 0:
        return 0.0, 0.0
    inter = iw * ih
    return inter / (a.area + b.area - inter), inter / min(a.area, b.area)


# -- pixels -------------------------------------------------------------------------------------
def _muted_color(rng: np.random.Generator) -> np.ndarray:
    r, g, b = colorsys.hsv_to_rgb(rng.random(), rng.uniform(0.0, 0.25), rng.uniform(0.35, 0.8))
    return np.array([r, g, b]) * 255


def _vivid_color(rng: np.random.Generator) -> np.ndarray:
    r, g, b = colorsys.hsv_to_rgb(rng.random(), rng.uniform(0.75, 1.0), rng.uniform(0.8, 1.0))
    return np.array([r, g, b]) * 255


def _background(rng: np.random.Generator, width: int, height: int, style: int) -> np.ndarray:
    """An HxWx3 float32 background: 0 gradient, 1 smooth noise, 2 stripes."""
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    c0, c1 = _muted_color(rng), _muted_color(rng)
    if style == 0:
        angle = rng.uniform(0, 2 * math.pi)
        proj = xx * math.cos(angle) + yy * math.sin(angle)
        t = (proj - proj.min()) / max(float(np.ptp(proj)), 1.0)
    elif style == 1:
        coarse = rng.random((int(rng.integers(3, 9)), int(rng.integers(3, 9)))) * 255
        small = Image.fromarray(coarse.astype(np.uint8), mode="L")
        t = np.asarray(small.resize((width, height), Image.BICUBIC), dtype=np.float32) / 255
    else:
        angle = rng.uniform(0, math.pi)
        period = rng.uniform(8, 28)
        proj = xx * math.cos(angle) + yy * math.sin(angle)
        t = 0.5 + 0.5 * np.sin(proj * (2 * math.pi / period))
    img = c0 + t[..., None] * (c1 - c0)
    img += rng.normal(0.0, 4.0, size=img.shape)  # a little sensor noise
    return img.astype(np.float32)


def _paint(img: np.ndarray, vertices: np.ndarray, color: np.ndarray) -> None:
    """Fill the polygon ``vertices`` (pixels) into ``img`` in place, anti-aliased (supersampled)."""
    height, width = img.shape[:2]
    x0, y0 = (max(int(math.floor(v)), 0) for v in vertices.min(axis=0))
    x1 = min(int(math.ceil(vertices[:, 0].max())), width)
    y1 = min(int(math.ceil(vertices[:, 1].max())), height)
    s = _SUPERSAMPLE
    mask = Image.new("L", ((x1 - x0) * s, (y1 - y0) * s), 0)
    points = [((x - x0) * s, (y - y0) * s) for x, y in vertices.tolist()]
    ImageDraw.Draw(mask).polygon(points, fill=255)
    alpha = np.asarray(mask.reduce(s), dtype=np.float32)[..., None] / 255
    crop = img[y0:y1, x0:x1]
    crop += alpha * (color - crop)


def _render(
    rng: np.random.Generator, index: int, min_size: int, max_size: int
) -> tuple[bytes, int, int, list[str], list[BBox]]:
    """One demo image: JPEG bytes, its size, and the class names and boxes of its objects."""
    width, height = (int(v) for v in rng.integers(min_size, max_size + 1, size=2))
    img = _background(rng, width, height, style=int(rng.integers(0, 3)))
    labels: list[str] = []
    boxes: list[BBox] = []
    n_objects = 0 if index % _NEGATIVE_EVERY == 5 else int(rng.integers(1, 5))
    short = min(width, height)
    for _ in range(n_objects):
        for _attempt in range(20):
            kind = DEMO_CLASSES[int(rng.integers(0, len(DEMO_CLASSES)))]
            unit = _unit_polygon(kind, rng.uniform(0, 2 * math.pi))
            extent = unit.max(axis=0) - unit.min(axis=0)
            side = rng.uniform(max(_MIN_OBJECT, 0.15 * short), 0.45 * short)
            vertices = unit * (side / extent.max())
            lo, hi = vertices.min(axis=0), vertices.max(axis=0)
            cx = rng.uniform(0.5 - lo[0], width - 0.5 - hi[0])
            cy = rng.uniform(0.5 - lo[1], height - 0.5 - hi[1])
            vertices = vertices + np.array([cx, cy])
            box = BBox.from_xyxy(*vertices.min(axis=0), *vertices.max(axis=0))
            overlaps = [_iou_and_cover(box, other) for other in boxes]
            if all(iou < 0.3 and cover < 0.45 for iou, cover in overlaps):
                break
        else:
            continue  # no free spot for this object: the image gets fewer objects
        _paint(img, vertices, _vivid_color(rng))
        labels.append(kind)
        boxes.append(box)
    buffer = io.BytesIO()
    pixels = np.clip(np.rint(img), 0, 255).astype(np.uint8)
    Image.fromarray(pixels, mode="RGB").save(buffer, format="JPEG", quality=90)
    return buffer.getvalue(), width, height, labels, boxes


def _split_sizes(num_images: int, splits: Sequence[float]) -> dict[str, int]:
    """Images per split: valid and test get their rounded share, train the rest."""
    if not 1 <= len(splits) <= 3 or any(p < 0 for p in splits) or sum(splits) <= 0:
        raise ArgumentError(
            f"splits must be 1 to 3 non-negative fractions (train, valid, test), got {splits}"
        )
    total = float(sum(splits))
    sizes = {name: int(round(num_images * p / total)) for name, p in zip(SPLIT_NAMES, splits)}
    sizes["train"] = num_images - sum(n for name, n in sizes.items() if name != "train")
    return {name: n for name, n in sizes.items() if n > 0}


# -- public API ---------------------------------------------------------------------------------
def demo_records(
    out_dir: str | Path,
    *,
    num_images: int = 96,
    seed: int = 0,
    format: str | None = None,
    splits: Sequence[float] = (0.7, 0.2, 0.1),
    min_size: int = 160,
    max_size: int = 320,
) -> dict[str, list[Record]]:
    """Render the demo images into ``out_dir`` and return their records per split.

    Images go where an export of ``format`` keeps them (``<split>/`` for coco, voc and csv,
    ``<split>/images/`` for yolo; ``<split>/`` when ``format`` is None); no annotation file is
    written (see [`write_demo_dataset`][efficientdet_adapter.app.demo.write_demo_dataset]). Record ids
    run 0..num_images-1 over all splits.

    Example:
        >>> splits = demo_records("tmp_demo", num_images=10)
        >>> sorted(splits), sum(len(r) for r in splits.values())
        (['test', 'train', 'valid'], 10)
    """
    if num_images < 1:
        raise ArgumentError(f"num_images must be at least 1, got {num_images}")
    if not _MIN_OBJECT * 2 <= min_size <= max_size:
        raise ArgumentError(
            f"need {int(_MIN_OBJECT * 2)} <= min_size <= max_size, got {min_size}, {max_size}"
        )
    rng = np.random.default_rng(seed)
    class_map = demo_class_map()
    out_dir = Path(out_dir)
    result: dict[str, list[Record]] = {}
    index = 0
    for split, count in _split_sizes(num_images, splits).items():
        folder = image_dir(out_dir, split, format or "coco")
        folder.mkdir(parents=True, exist_ok=True)
        records = []
        for _ in range(count):
            data, width, height, labels, boxes = _render(rng, index, min_size, max_size)
            digest = hashlib.md5(data, usedforsecurity=False).hexdigest()
            path = folder / f"shapes_{index:04d}_jpg.rf.{digest}.jpg"
            path.write_bytes(data)
            records.append(
                Record(
                    record_id=index,
                    filepath=path,
                    width=width,
                    height=height,
                    labels=labels,
                    label_ids=[class_map.get_by_name(n) for n in labels],
                    bboxes=boxes,
                    class_map=class_map,
                )
            )
            index += 1
        result[split] = records
    return result


def _clear_previous_demo(out_dir: Path) -> None:
    """Remove an earlier demo export in ``out_dir``; refuse to touch anything else."""
    ours = [out_dir / name for name in (*SPLIT_NAMES, *YOLO_DATA_FILES, _MARKER)]
    present = [p for p in ours if p.exists()]
    if not present:
        return
    marker = out_dir / _MARKER
    if not (marker.is_file() and marker.read_text(encoding="utf-8").startswith(_MARKER_TEXT)):
        raise PathExistsError(
            f"{out_dir} already holds {[p.name for p in present]} that the demo did not write; "
            "choose an empty folder"
        )
    for path in present:
        shutil.rmtree(path) if path.is_dir() else path.unlink()


def write_demo_dataset(
    out_dir: str | Path,
    *,
    num_images: int = 96,
    seed: int = 0,
    format: str = "coco",
    splits: Sequence[float] = (0.7, 0.2, 0.1),
    min_size: int = 160,
    max_size: int = 320,
) -> Path:
    """Write the demo dataset as a Roboflow export of ``format`` and return its folder.

    Args:
        out_dir: the export folder; an earlier demo export there is replaced, any other
            content in its ``train``/``valid``/``test`` folders is an error.
        num_images: images over all splits; image ``i`` has no objects when ``i % 10 == 5``.
        seed: the same seed writes byte-identical files.
        format: ``coco``, ``voc``, ``yolo`` or ``csv`` (see
            [`efficientdet_adapter.parsers.writers`][efficientdet_adapter.parsers.writers]).
        splits: fractions for train, valid, test (a split with no image is not written).
        min_size, max_size: range of image widths and heights in pixels, drawn independently.

    Example:
        >>> write_demo_dataset("demo_data", num_images=20, format="yolo")
        PosixPath('demo_data')
    """
    if format not in EXPORT_FORMATS:
        raise ArgumentError(f"unknown export format {format!r}; choose one of {EXPORT_FORMATS}")
    out_dir = Path(out_dir)
    _clear_previous_demo(out_dir)
    records = demo_records(
        out_dir,
        num_images=num_images,
        seed=seed,
        format=format,
        splits=splits,
        min_size=min_size,
        max_size=max_size,
    )
    write_export(records, out_dir, format=format, class_map=demo_class_map())
    (out_dir / _MARKER).write_text(
        f"{_MARKER_TEXT} (seed={seed}, num_images={num_images}, format={format}).\n",
        encoding="utf-8",
    )
    return out_dir


def split_summary(splits: dict[str, list[Record]]) -> list[str]:
    """One line per split: images, boxes and images without objects."""
    lines = []
    for split, records in splits.items():
        boxes = sum(r.num_objects for r in records)
        negatives = sum(r.num_objects == 0 for r in records)
        lines.append(
            f"  {split:<5} {len(records):4d} images {boxes:5d} boxes "
            f"{negatives:3d} without objects"
        )
    return lines


if __name__ == "__main__":
    raise SystemExit("the demo data has one command now: "
                     "efficientdet-adapter demo --data-only --out OUT_DIR [--format coco|voc|yolo|csv]")
