"""The annotation formats: their names, Roboflow's file names, and what their writers share.

Each format module reads and writes its own files ([`coco`][efficientdet_adapter.parsers.coco],
[`voc`][efficientdet_adapter.parsers.voc.voc], [`yolo`][efficientdet_adapter.parsers.yolo],
[`csv`][efficientdet_adapter.parsers.csv]; [`roboflow`][efficientdet_adapter.parsers.roboflow] reads
and writes a whole export). The facts they, the command line,
the demo and ``check`` all need live here once:

=============================  ====================================================================
`FORMATS`                ``("coco", "voc", "yolo", "csv")``: every ``--format`` choice
`COCO_ANNOTATIONS_NAME`  ``_annotations.coco.json``: one per split folder of a COCO export
`CSV_ANNOTATIONS_NAME`   ``_annotations.csv``: one per split folder of a CSV export
`CSV_HEADER`             ``filename,width,height,class,xmin,ymin,xmax,ymax``: TF OD CSV columns
`YOLO_DATA_FILES`        ``data.yaml`` (or ``data.yml``): a YOLO export's class names
`DARKNET_LABELS`         ``_darknet.labels``: YOLO Darknet's class names, one per line
=============================  ====================================================================

The helpers below turn records and predictions into what every writer writes: numbers as text
(full precision, whole numbers without a decimal point), split names, class names per box, image
files placed into an export.

Example:
    >>> image_dir("out", "train", "yolo")
    PosixPath('out/train/images')
"""

from __future__ import annotations

import shutil
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Literal

from efficientdet_adapter.base.atomic import atomic_save
from efficientdet_adapter.records.class_map import ClassMap, background_for
from efficientdet_adapter.base.errors import ArgumentError, ClassMapError, ParseError
from efficientdet_adapter.records.predictions import Prediction
from efficientdet_adapter.records.record import Record

__all__ = [
    "FORMATS",
    "COCO_ANNOTATIONS_NAME",
    "CSV_ANNOTATIONS_NAME",
    "CSV_HEADER",
    "YOLO_DATA_FILES",
    "DARKNET_LABELS",
    "SPLIT_NAMES",
    "Splits",
    "check_format",
    "image_dir",
    "number_text",
    "as_splits",
    "resolve_class_map",
    "box_names",
    "foreground_index",
    "place_image",
    "short_floats",
    "kept_detections",
    "prediction_stem",
    "prediction_names",
    "CocoClassIds",
    "CocoOrder",
    "coco_id_class_map",
]

#: The annotation formats this library reads and writes: the one list (the CLI's choices).
FORMATS: tuple[str, ...] = ("coco", "voc", "yolo", "csv")
#: Roboflow's COCO annotation file, one in each split folder.
COCO_ANNOTATIONS_NAME = "_annotations.coco.json"
#: Roboflow's TensorFlow Object Detection CSV file, one in each split folder.
CSV_ANNOTATIONS_NAME = "_annotations.csv"
#: The columns of a TensorFlow Object Detection CSV (pixels; one row per box).
CSV_HEADER: tuple[str, ...] = ("filename", "width", "height", "class", "xmin", "ymin", "xmax",
                               "ymax")
#: A YOLO export's class names file, under the names Ultralytics and Roboflow use.
YOLO_DATA_FILES: tuple[str, ...] = ("data.yaml", "data.yml")
#: YOLO Darknet's class names file (one name a line), beside the images of each split.
DARKNET_LABELS = "_darknet.labels"
#: The split names an export is written with, in order.
SPLIT_NAMES: tuple[str, ...] = ("train", "valid", "test")

Splits = Mapping[str, Sequence[Record]] | Sequence[Sequence[Record]] | Sequence[Record]


def check_format(format: str) -> None:
    """Refuse a format name that is not in `FORMATS`.

    Raises:
        ArgumentError: naming the format and the choices.
    """
    if format not in FORMATS:
        raise ArgumentError(f"unknown export format {format!r}; choose one of {FORMATS}")


def image_dir(out_dir: str | Path, split: str, format: str) -> Path:
    """Where an export of ``format`` keeps the images of ``split``.

    Example:
        >>> image_dir("out", "train", "yolo")
        PosixPath('out/train/images')
    """
    check_format(format)
    split_dir = Path(out_dir) / split
    return split_dir / "images" if format == "yolo" else split_dir


# -- records -> files ------------------------------------------------------------------------
def number_text(value: float) -> str:
    """A coordinate as text: ``12`` for whole numbers, the shortest exact float text otherwise.

    Example:
        >>> number_text(12.0), number_text(0.1)
        ('12', '0.1')
    """
    value = float(value)
    return str(int(value)) if value.is_integer() else repr(value)


def as_splits(splits: Splits) -> dict[str, list[Record]]:
    """``{"train": [...], ...}`` from a mapping, a list of record lists, or one record list.

    Raises:
        ArgumentError: more record lists than `SPLIT_NAMES`.
    """
    if isinstance(splits, Mapping):
        return {str(name): list(records) for name, records in splits.items()}
    splits = list(splits)
    if not splits or isinstance(splits[0], Record):
        return {"train": splits}
    if len(splits) > len(SPLIT_NAMES):
        raise ArgumentError(
            f"{len(splits)} record lists given; name them with a dict such as "
            "{'train': ..., 'valid': ..., 'test': ...}"
        )
    return {name: list(records) for name, records in zip(SPLIT_NAMES, splits)}


def resolve_class_map(splits: dict[str, list[Record]], class_map: ClassMap | None) -> ClassMap:
    """The given map, else the records' own map, else the names in first-seen order."""
    if class_map is not None:
        return class_map
    for records in splits.values():
        for record in records:
            if record.class_map is not None:
                return record.class_map
    names: dict[str, None] = {}
    for records in splits.values():
        for record in records:
            names.update(dict.fromkeys(record.labels))
    return ClassMap(list(names))


def box_names(record: Record, class_map: ClassMap) -> list[str]:
    """Class names of the record's boxes (from ``labels``, else from ``label_ids``).

    Raises:
        ArgumentError: the record has fewer labels (and label ids) than boxes.
    """
    if len(record.labels) == len(record.bboxes):
        return list(record.labels)
    if len(record.label_ids) == len(record.bboxes):
        return [class_map.get_by_id(i) for i in record.label_ids]
    raise ArgumentError(
        f"record {record.record_id!r} ({record.filepath}) has {len(record.bboxes)} boxes but "
        f"{len(record.labels)} labels and {len(record.label_ids)} label ids"
    )


def foreground_index(class_map: ClassMap) -> dict[str, int]:
    """0-based index of each foreground class, in class-map order."""
    return {name: i for i, name in enumerate(class_map.foreground)}


def place_image(record: Record, dest_dir: Path, taken: set[str]) -> str:
    """Put the record's image into ``dest_dir`` (copy, or encode ``img``) and return its name.

    ``taken`` holds the names already placed in ``dest_dir`` (this one is added).

    Raises:
        ArgumentError: the record has no image, or its file name is already taken.
    """
    if record.filepath is not None:
        src = Path(record.filepath)
        name = src.name
    elif record.img is not None:
        name = f"{record.record_id}.jpg"
        src = None
    else:
        raise ArgumentError(f"record {record.record_id!r} has neither a filepath nor an image")
    if name in taken:
        raise ArgumentError(
            f"two records of one split share the image file name {name!r} (in {dest_dir}); "
            "rename one of the files"
        )
    taken.add(name)
    dest = dest_dir / name
    if src is None:
        from PIL import Image  # noqa: PLC0415

        picture = Image.fromarray(record.img).convert("RGB")
        atomic_save(dest, lambda tmp: picture.save(tmp, format="JPEG", quality=95))
    elif not dest.exists() or src.resolve() != dest.resolve():
        shutil.copyfile(src, dest)
    return name


# -- predictions -> files --------------------------------------------------------------------
def short_floats(values) -> list[float]:
    """float32 values as the shortest floats that read back the same (0.9, not 0.89999997)."""
    return [float(str(v)) for v in values]


def kept_detections(pred: Prediction, min_score: float | None):
    """``(boxes as lists of short floats, scores, label ids)`` of the detections kept:
    those scoring at least ``min_score``, or the prediction's own ``keep`` when it is None."""
    keep = pred.keep if min_score is None else pred.scores >= min_score
    boxes = [short_floats(b) for b in pred.boxes[keep]]
    return boxes, short_floats(pred.scores[keep]), pred.label_ids[keep].tolist()


def prediction_stem(pred: Prediction, i: int) -> str:
    """The file stem of prediction ``i``'s output: its image's stem, else its record id, else i."""
    if pred.filepath is not None:
        return Path(pred.filepath).stem
    return str(pred.record_id if pred.record_id is not None else i)


def prediction_names(pred: Prediction, label_ids) -> list[str]:
    """Class names of ``label_ids`` from the prediction's class map (ids as text without one)."""
    if pred.class_map is None:
        return [str(i) for i in label_ids]
    return [pred.class_map.get_by_id(i) for i in label_ids]


#: How COCO category ids become label ids: ``"contiguous"`` (1..N in category-id order, the
#: library's choice) or ``"coco"`` (label id = category id, a class map as long as the largest id
#: + 1, gaps named ``"__unused_<id>__"``: IceVision's 91 entries for COCO's 80 classes).
CocoClassIds = Literal["contiguous", "coco"]
#: The record order: ``"images"`` (the file's image order) or ``"annotations"`` (the order in
#: which images first appear in the annotations: IceVision's).
CocoOrder = Literal["images", "annotations"]


def coco_id_class_map(names: list[str], cat_ids: list[int], src: str
                       ) -> tuple[ClassMap, dict[int, tuple[str, int]]]:
    """IceVision's class map: label id = COCO category id, gaps named ``__unused_<id>__``;
    id 0 is the background (a category 0 is left out, as IceVision's did)."""
    by_id = {cid: name for cid, name in zip(cat_ids, names) if cid > 0}
    largest = max(by_id, default=0)
    classes = [by_id.get(i, f"__unused_{i}__") for i in range(1, largest + 1)]
    try:
        class_map = ClassMap(classes, background=background_for(classes))
    except ClassMapError as e:
        raise ParseError(f"{src}: categories cannot form a class map: {e}") from None
    return class_map, {cid: (name, cid) for cid, name in by_id.items()}
