"""Dataset files: records written as Roboflow-layout exports (COCO, VOC, YOLO, CSV).

Records -> files, in the folder layouts Roboflow's exports use, so that
:class:`~efficientdet_adapter.parsers.RoboflowParser` reads them back unchanged:

========  =====================================================================================
format    layout (``<split>`` is ``train``, ``valid`` or ``test``)
========  =====================================================================================
coco      ``<split>/_annotations.coco.json`` + the images; image and annotation ids restart at
          0 in each split; category 0 is the "annotation group" that every class names as its
          supercategory and no box uses; classes are categories 1..N in class-map order.
voc       ``<split>/<image>.xml`` beside ``<split>/<image>.jpg``; Roboflow's 1-based pixels
          (COCO's ``x`` written as ``x + 1`` on all four values).
yolo      ``data.yaml`` (``names`` in class-map order, ``train: ../train/images``, ...) and
          ``<split>/images/*.jpg`` + ``<split>/labels/*.txt`` (normalized ``c cx cy w h``; an
          empty file for an image without objects).
csv       ``<split>/_annotations.csv`` with the header
          ``filename,width,height,class,xmin,ymin,xmax,ymax`` (pixels) + the images; an image
          without objects has no row.
========  =====================================================================================

Coordinates are written at full float precision (integers without a decimal point), so a
write/parse round trip keeps boxes within 1e-6 pixels.

Predictions are written by :mod:`.prediction_files`; :mod:`.writers` offers both under one name.

Example:
    >>> write_export({"train": train_records, "valid": valid_records}, "out", format="yolo")
    PosixPath('out')
"""

from __future__ import annotations

import csv
import io
import json
import logging
import shutil
from collections.abc import Mapping, Sequence
from pathlib import Path
from xml.sax.saxutils import escape

from .atomic import atomic_save, atomic_write_text
from .class_map import ClassMap
from .records import Record

__all__ = [
    "EXPORT_FORMATS",
    "CSV_HEADER",
    "COCO_ANNOTATIONS_NAME",
    "CSV_ANNOTATIONS_NAME",
    "image_dir",
    "write_export",
    "write_coco",
    "write_voc",
    "write_yolo",
    "write_csv",
]

logger = logging.getLogger(__name__)

EXPORT_FORMATS = ("coco", "voc", "yolo", "csv")
COCO_ANNOTATIONS_NAME = "_annotations.coco.json"
CSV_ANNOTATIONS_NAME = "_annotations.csv"
CSV_HEADER = ("filename", "width", "height", "class", "xmin", "ymin", "xmax", "ymax")
_DEFAULT_SPLIT_NAMES = ("train", "valid", "test")

Splits = Mapping[str, Sequence[Record]] | Sequence[Sequence[Record]] | Sequence[Record]


# -- helpers -------------------------------------------------------------------------------------
def _num(value: float) -> str:
    """A coordinate as text: ``12`` for whole numbers, the shortest exact float text otherwise."""
    value = float(value)
    return str(int(value)) if value.is_integer() else repr(value)


def _as_splits(splits: Splits) -> dict[str, list[Record]]:
    """``{"train": [...], ...}`` from a mapping, a list of record lists, or one record list."""
    if isinstance(splits, Mapping):
        return {str(name): list(records) for name, records in splits.items()}
    splits = list(splits)
    if not splits or isinstance(splits[0], Record):
        return {"train": splits}
    if len(splits) > len(_DEFAULT_SPLIT_NAMES):
        raise ValueError(
            f"{len(splits)} record lists given; name them with a dict such as "
            "{'train': ..., 'valid': ..., 'test': ...}"
        )
    return {name: list(records) for name, records in zip(_DEFAULT_SPLIT_NAMES, splits)}


def _resolve_class_map(splits: dict[str, list[Record]], class_map: ClassMap | None) -> ClassMap:
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


def _names(record: Record, class_map: ClassMap) -> list[str]:
    """Class names of the record's boxes (from ``labels``, else from ``label_ids``)."""
    if len(record.labels) == len(record.bboxes):
        return list(record.labels)
    if len(record.label_ids) == len(record.bboxes):
        return [class_map.get_by_id(i) for i in record.label_ids]
    raise ValueError(
        f"record {record.record_id!r} ({record.filepath}) has {len(record.bboxes)} boxes but "
        f"{len(record.labels)} labels and {len(record.label_ids)} label ids"
    )


def _foreground_index(class_map: ClassMap) -> dict[str, int]:
    """0-based index of each foreground class, in class-map order."""
    return {name: i for i, name in enumerate(class_map.foreground)}


def _place_image(record: Record, dest_dir: Path, taken: set[str]) -> str:
    """Put the record's image into ``dest_dir`` (copy, or encode ``img``) and return its name."""
    if record.filepath is not None:
        src = Path(record.filepath)
        name = src.name
    elif record.img is not None:
        name = f"{record.record_id}.jpg"
        src = None
    else:
        raise ValueError(f"record {record.record_id!r} has neither a filepath nor an image")
    if name in taken:
        raise ValueError(
            f"two records of one split share the image file name {name!r} (in {dest_dir}); "
            "rename one of the files"
        )
    taken.add(name)
    dest = dest_dir / name
    if src is None:
        from PIL import Image

        picture = Image.fromarray(record.img).convert("RGB")
        atomic_save(dest, lambda tmp: picture.save(tmp, format="JPEG", quality=95))
    elif not dest.exists() or src.resolve() != dest.resolve():
        shutil.copyfile(src, dest)
    return name


def image_dir(out_dir: str | Path, split: str, format: str) -> Path:
    """Where an export of ``format`` keeps the images of ``split``.

    Example:
        >>> image_dir("out", "train", "yolo")
        PosixPath('out/train/images')
    """
    _check_format(format)
    split_dir = Path(out_dir) / split
    return split_dir / "images" if format == "yolo" else split_dir


def _check_format(format: str) -> None:
    if format not in EXPORT_FORMATS:
        raise ValueError(f"unknown export format {format!r}; choose one of {EXPORT_FORMATS}")


# -- datasets ------------------------------------------------------------------------------------
def write_export(
    splits: Splits, out_dir: str | Path, format: str = "coco", class_map: ClassMap | None = None
) -> Path:
    """Write ``splits`` as a Roboflow export of ``format`` (``coco``, ``voc``, ``yolo``, ``csv``).

    Args:
        splits: ``{"train": records, "valid": records, ...}``, or a list of record lists (named
            train, valid, test in that order), or one list of records (written as ``train``).
        out_dir: the export folder (created). Image files are copied in unless they are there.
        format: one of :data:`EXPORT_FORMATS`.
        class_map: class order for category ids / YOLO indices; by default the records' map.

    Returns:
        ``out_dir`` as a :class:`~pathlib.Path`.
    """
    _check_format(format)
    writer = {"coco": write_coco, "voc": write_voc, "yolo": write_yolo, "csv": write_csv}[format]
    return writer(splits, out_dir, class_map=class_map)


def write_coco(
    splits: Splits,
    out_dir: str | Path,
    class_map: ClassMap | None = None,
    *,
    group_name: str = "objects",
) -> Path:
    """Roboflow COCO: one ``_annotations.coco.json`` per split folder, ids restarting at 0.

    Category 0 is the annotation group ``group_name`` (supercategory ``"none"``), which no box
    uses; class ``k`` of the class map's foreground (0-based) is category ``k + 1``.
    """
    named = _as_splits(splits)
    class_map = _resolve_class_map(named, class_map)
    index = _foreground_index(class_map)
    categories = [{"id": 0, "name": group_name, "supercategory": "none"}] + [
        {"id": i + 1, "name": name, "supercategory": group_name} for name, i in index.items()
    ]
    out_dir = Path(out_dir)
    for split, records in named.items():
        split_dir = image_dir(out_dir, split, "coco")
        split_dir.mkdir(parents=True, exist_ok=True)
        taken: set[str] = set()
        images, annotations = [], []
        for image_id, record in enumerate(records):
            file_name = _place_image(record, split_dir, taken)
            images.append(
                {
                    "id": image_id,
                    "license": 1,
                    "file_name": file_name,
                    "height": int(record.height),
                    "width": int(record.width),
                }
            )
            names = _names(record, class_map)
            for k, (box, name) in enumerate(zip(record.bboxes, names)):
                annotations.append(
                    {
                        "id": len(annotations),
                        "image_id": image_id,
                        "category_id": index[name] + 1,
                        "bbox": [float(v) for v in box.xywh],
                        "area": float(record.areas[k]) if record.areas else box.area,
                        "segmentation": [],
                        "iscrowd": int(bool(record.iscrowds[k])) if record.iscrowds else 0,
                    }
                )
        data = {
            "info": {"description": "Exported by efficientdet_adapter in Roboflow's COCO layout"},
            "licenses": [{"id": 1, "url": "", "name": "unknown"}],
            "categories": categories,
            "images": images,
            "annotations": annotations,
        }
        atomic_write_text(split_dir / COCO_ANNOTATIONS_NAME, json.dumps(data))
    return out_dir


def _voc_xml(
    file_name: str,
    width: int,
    height: int,
    objects: Sequence[tuple[str, tuple[float, float, float, float], float | None]],
    offset: float,
) -> str:
    """One Pascal VOC annotation (bndbox in Roboflow's xmin, xmax, ymin, ymax order)."""
    lines = [
        "<annotation>",
        "\t<folder></folder>",
        f"\t<filename>{escape(file_name)}</filename>",
        f"\t<path>{escape(file_name)}</path>",
        "\t<source>",
        "\t\t<database>efficientdet_adapter</database>",
        "\t</source>",
        "\t<size>",
        f"\t\t<width>{int(width)}</width>",
        f"\t\t<height>{int(height)}</height>",
        "\t\t<depth>3</depth>",
        "\t</size>",
        "\t<segmented>0</segmented>",
    ]
    for name, (x0, y0, x1, y1), score in objects:
        lines += [
            "\t<object>",
            f"\t\t<name>{escape(name)}</name>",
            "\t\t<pose>Unspecified</pose>",
            "\t\t<truncated>0</truncated>",
            "\t\t<difficult>0</difficult>",
            "\t\t<occluded>0</occluded>",
        ]
        if score is not None:
            lines.append(f"\t\t<score>{_num(score)}</score>")
        lines += [
            "\t\t<bndbox>",
            f"\t\t\t<xmin>{_num(x0 + offset)}</xmin>",
            f"\t\t\t<xmax>{_num(x1 + offset)}</xmax>",
            f"\t\t\t<ymin>{_num(y0 + offset)}</ymin>",
            f"\t\t\t<ymax>{_num(y1 + offset)}</ymax>",
            "\t\t</bndbox>",
            "\t</object>",
        ]
    lines.append("</annotation>")
    return "\n".join(lines) + "\n"


def write_voc(
    splits: Splits,
    out_dir: str | Path,
    class_map: ClassMap | None = None,
    *,
    one_based: bool = True,
) -> Path:
    """Roboflow Pascal VOC: ``<image stem>.xml`` beside each image in its split folder.

    With ``one_based=True`` (Roboflow's convention) every coordinate is written as COCO's value
    plus 1; ``one_based=False`` writes the record's pixels unchanged.
    """
    named = _as_splits(splits)
    class_map = _resolve_class_map(named, class_map)
    offset = 1.0 if one_based else 0.0
    out_dir = Path(out_dir)
    for split, records in named.items():
        split_dir = image_dir(out_dir, split, "voc")
        split_dir.mkdir(parents=True, exist_ok=True)
        taken: set[str] = set()
        for record in records:
            file_name = _place_image(record, split_dir, taken)
            objects = [(n, b.xyxy, None) for n, b in zip(_names(record, class_map), record.bboxes)]
            xml = _voc_xml(file_name, record.width, record.height, objects, offset)
            atomic_write_text(split_dir / f"{Path(file_name).stem}.xml", xml)
    return out_dir


def write_yolo(splits: Splits, out_dir: str | Path, class_map: ClassMap | None = None) -> Path:
    """Roboflow YOLO (v5/v8): ``data.yaml`` + ``<split>/images`` and ``<split>/labels``.

    ``data.yaml`` lists ``names`` in class-map order and points at ``../<split>/images`` (the
    ``valid`` split under the key ``val``), as Roboflow writes it.
    """
    import yaml

    named = _as_splits(splits)
    class_map = _resolve_class_map(named, class_map)
    index = _foreground_index(class_map)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    for split, records in named.items():
        images = image_dir(out_dir, split, "yolo")
        labels = images.parent / "labels"
        images.mkdir(parents=True, exist_ok=True)
        labels.mkdir(parents=True, exist_ok=True)
        taken: set[str] = set()
        for record in records:
            file_name = _place_image(record, images, taken)
            rows = []
            for name, box in zip(_names(record, class_map), record.bboxes):
                rel = box.relative_xcycwh(record.width, record.height)
                rows.append(" ".join([str(index[name]), *(_num(v) for v in rel)]) + "\n")
            atomic_write_text(labels / f"{Path(file_name).stem}.txt", "".join(rows))
    data: dict[str, object] = {}
    for split in named:
        key = {"valid": "val"}.get(split, split)
        data[key] = f"../{split}/images"
    data["nc"] = len(index)
    data["names"] = list(index)
    text = yaml.safe_dump(data, sort_keys=False, default_flow_style=None, allow_unicode=True)
    atomic_write_text(out_dir / "data.yaml", text)
    return out_dir


def write_csv(splits: Splits, out_dir: str | Path, class_map: ClassMap | None = None) -> Path:
    """Roboflow TensorFlow Object Detection CSV: ``<split>/_annotations.csv`` + the images.

    One row per box with the header :data:`CSV_HEADER`, in pixels; an image without objects has
    no row (its file is still copied into the split folder).
    """
    named = _as_splits(splits)
    class_map = _resolve_class_map(named, class_map)
    out_dir = Path(out_dir)
    for split, records in named.items():
        split_dir = image_dir(out_dir, split, "csv")
        split_dir.mkdir(parents=True, exist_ok=True)
        taken: set[str] = set()
        buffer = io.StringIO()
        rows = csv.writer(buffer, lineterminator="\n")
        rows.writerow(CSV_HEADER)
        for record in records:
            file_name = _place_image(record, split_dir, taken)
            for name, box in zip(_names(record, class_map), record.bboxes):
                rows.writerow(
                    [file_name, int(record.width), int(record.height), name]
                    + [_num(v) for v in box.xyxy]
                )
        atomic_write_text(split_dir / CSV_ANNOTATIONS_NAME, buffer.getvalue())
    return out_dir
