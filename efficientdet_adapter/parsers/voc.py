"""Pascal VOC XML: annotations -> records (``parsers.VOCBBoxParser``), and records or
predictions -> one XML per image ([`write_voc`][efficientdet_adapter.parsers.voc.write_voc],
[`write_voc_predictions`][efficientdet_adapter.parsers.voc.write_voc_predictions]).

Coordinates: Pascal VOC stores 1-based pixel indices, and Roboflow's VOC export writes each COCO
coordinate as ``x + 1`` on all four values (``xmax = x + w + 1``).
[`voc_to_xyxy`][efficientdet_adapter.parsers.voc.voc_to_xyxy] therefore
subtracts 1 from all four values by default, so a Roboflow VOC export parses to exactly the boxes
of the COCO export of the same data. (IceVision subtracted nothing and truncated to ints; we keep
decimals, which Roboflow and other tools write.) Pass ``one_based=False`` for files written by
tools that store 0-based continuous coordinates.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from pathlib import Path
from xml.etree.ElementTree import Element
from xml.sax.saxutils import escape

import defusedxml.ElementTree as DET
from defusedxml import DefusedXmlException

from efficientdet_adapter.base.arguments import path_arg
from efficientdet_adapter.records.bbox import BBox
from efficientdet_adapter.base.atomic import atomic_write_text
from efficientdet_adapter.records.class_map import ClassMap
from efficientdet_adapter.base.errors import ParseError
from efficientdet_adapter.records.predictions import Prediction
from efficientdet_adapter.records.components import BOX_COMPONENTS, ComponentRecord
from efficientdet_adapter.records.record import Record
from efficientdet_adapter.parsers._paths import safe_join
from efficientdet_adapter.parsers.base import Parser, progress
from efficientdet_adapter.parsers.formats import (
    Splits,
    as_splits,
    box_names,
    image_dir,
    kept_detections,
    number_text,
    place_image,
    prediction_names,
    prediction_stem,
    resolve_class_map,
)

__all__ = ["VOCParser", "VOCBBoxParser", "voc_to_xyxy", "read_voc_xml", "voc", "write_voc",
           "write_voc_predictions"]

_COORDS = ("xmin", "ymin", "xmax", "ymax")


def voc_to_xyxy(
    xmin: float, ymin: float, xmax: float, ymax: float, *, one_based: bool = True
) -> tuple[float, float, float, float]:
    """A VOC ``bndbox`` as continuous xyxy pixels (COCO's convention).

    With ``one_based`` (the default) 1 is subtracted from all four values: this undoes what
    Roboflow writes (COCO ``x, y, x + w, y + h``, each plus 1), so VOC and COCO exports of one
    dataset agree. Original Pascal VOC files store inclusive 1-based indices, for which the strict
    conversion would subtract 1 from ``xmin``/``ymin`` only; subtracting from all four moves their
    right and bottom edges by one pixel, below annotation noise, and keeps every format in
    agreement with COCO, which is what training and evaluation compare against. The writers add 1 to
    all four values, so a write/parse round trip is exact.

    Example:
        >>> voc_to_xyxy(11, 21, 41, 61)
        (10.0, 20.0, 40.0, 60.0)
        >>> voc_to_xyxy(11, 21, 41, 61, one_based=False)
        (11.0, 21.0, 41.0, 61.0)
    """
    off = 1.0 if one_based else 0.0
    return (float(xmin) - off, float(ymin) - off, float(xmax) - off, float(ymax) - off)


def _text(parent: Element, tag: str) -> str | None:
    el = parent.find(tag)
    if el is None or el.text is None:
        return None
    text = el.text.strip()
    return text or None


def _number(text: str | None, what: str, where: str) -> float:
    if text is None:
        raise ParseError(f"{where}: <{what}> is missing or empty; every box needs "
                         "<xmin>, <ymin>, <xmax> and <ymax>")
    try:
        value = float(text)
    except ValueError:
        raise ParseError(f"{where}: <{what}> is {text!r}, not a number") from None
    if not math.isfinite(value):
        raise ParseError(f"{where}: <{what}> is {text!r}, not a finite number")
    return value


def read_voc_xml(
    xml_path: str | os.PathLike, images_dir: str | os.PathLike, *, one_based: bool = True,
    truncate: bool = False,
) -> Record:
    """One VOC XML file as a record (``record_id`` = the image file's stem, as in IceVision).

    ``width``/``height`` come from ``<size>``; they are 0 when it is absent or zero, and
    ``Parser.parse`` then reads them from the image header.

    Raises:
        ParseError: malformed XML, XML entities or external references (never expanded), a
            missing ``<filename>``/``<name>``/``<bndbox>`` value, a non-numeric coordinate, or a
            file name outside ``images_dir``; the message names the file and the object.
    """
    xml_path = xml_path if isinstance(xml_path, Path) else Path(xml_path)
    images_dir = images_dir if isinstance(images_dir, Path) else Path(images_dir)
    try:
        root = DET.parse(xml_path).getroot()
    except DefusedXmlException as e:
        raise ParseError(
            f"{xml_path}: XML entities, DTD tricks and external references are not allowed in "
            f"annotation files and are never expanded ({type(e).__name__}: {e})"
        ) from None
    except DET.ParseError as e:
        raise ParseError(f"{xml_path}: malformed XML ({e})") from None
    except OSError as e:
        raise ParseError(f"{xml_path}: cannot read the annotation file ({e})") from None
    if root.tag != "annotation":
        raise ParseError(f"{xml_path}: root element is <{root.tag}>, expected <annotation> "
                         "(is this a Pascal VOC file?)")
    filename = _text(root, "filename")
    if filename is None:
        raise ParseError(f"{xml_path}: <filename> is missing or empty; it must name the image")
    filepath = safe_join(images_dir, filename, annotation=xml_path)

    width = height = 0
    size = root.find("size")
    if size is not None:
        w, h = _text(size, "width"), _text(size, "height")
        if w is not None and h is not None:
            width = int(_number(w, "width", f"{xml_path} <size>"))
            height = int(_number(h, "height", f"{xml_path} <size>"))

    labels: list[str] = []
    bboxes: list[BBox] = []
    for i, obj in enumerate(root.iter("object")):
        name = _text(obj, "name")
        where = f"{xml_path}, object {i} ({name!r})"
        if name is None:
            raise ParseError(f"{where}: <name> is missing or empty; every object needs a class")
        box = obj.find("bndbox")
        if box is None:
            raise ParseError(f"{where}: <bndbox> is missing")
        x0, y0, x1, y1 = (_number(_text(box, c), c, where) for c in _COORDS)
        if truncate:  # IceVision's reading: int(float(text))
            x0, y0, x1, y1 = (float(int(v)) for v in (x0, y0, x1, y1))
        bboxes.append(BBox(*voc_to_xyxy(x0, y0, x1, y1, one_based=one_based)))
        labels.append(name)
    return Record(
        record_id=filepath.stem,
        filepath=filepath,
        width=max(width, 0),
        height=max(height, 0),
        labels=labels,
        bboxes=bboxes,
    )


class VOCParser(Parser):
    """Pascal VOC XML files (``*.xml`` directly in ``annotations_dir``) -> records, in the
    library's pixel convention (``one_based=True``;
    [`VOCBBoxParser`][efficientdet_adapter.parsers.voc.VOCBBoxParser] gives IceVision's).

    Read with ``defusedxml``: entities and external references are refused, never expanded.
    Image sizes come from ``<size>``; the image header is read only when it is missing (or with
    ``check_images=True``). Record ids are the image file stems (IceVision's choice), so
    ``FixedSplitter([["img1", ...], ...])`` works; XML files are read in sorted name order.

    Args:
        annotations_dir: folder of the XML files.
        images_dir: folder the ``<filename>`` values are relative to (may be the same folder,
            as in Roboflow's VOC export).
        class_map: see [`Parser`][efficientdet_adapter.parsers.base.Parser]; without one, the sorted
            names found.
        one_based: subtract 1 from all four coordinates (see
            [`voc_to_xyxy`][efficientdet_adapter.parsers.voc.voc_to_xyxy]).
        truncate: cut each coordinate to an integer first, as IceVision's parser did.
        check_images, show_pbar: see [`Parser`][efficientdet_adapter.parsers.base.Parser].

    Example:
        >>> parser = VOCParser("voc/Annotations", "voc/JPEGImages")  # doctest: +SKIP
        >>> train, valid = parser.parse()  # doctest: +SKIP
    """

    def __init__(
        self,
        annotations_dir: str | os.PathLike,
        images_dir: str | os.PathLike,
        class_map: ClassMap | None = None,
        *,
        one_based: bool = True,
        truncate: bool = False,
        check_images: bool = False,
        show_pbar: bool | None = None,
    ):
        super().__init__(class_map, check_images=check_images, show_pbar=show_pbar)
        self.annotations_dir = path_arg(annotations_dir, "annotations_dir")
        self.images_dir = path_arg(images_dir, "images_dir")
        self.one_based = one_based
        self.truncate = truncate
        if not self.annotations_dir.is_dir():
            raise ParseError(f"{self.annotations_dir}: annotations folder not found")
        self.annotation_files = [
            safe_join(self.annotations_dir, n, annotation=self.annotations_dir)
            for n in sorted(os.listdir(self.annotations_dir))
            if n.lower().endswith(".xml")
        ]

    def __len__(self) -> int:
        return len(self.annotation_files)

    def __iter__(self):
        return iter(self.annotation_files)

    def parse_records(self) -> list[Record]:
        records = []
        seen: dict[str, Path] = {}
        files = progress(self.annotation_files, total=len(self), desc="VOC", show=self.show_pbar)
        for xml_path in files:
            record = read_voc_xml(xml_path, self.images_dir, one_based=self.one_based,
                                  truncate=self.truncate)
            first = seen.setdefault(record.record_id, xml_path)
            if first is not xml_path:
                raise ParseError(
                    f"{xml_path} and {first} both annotate an image named "
                    f"{record.record_id!r}; keep one annotation file per image"
                )
            records.append(record)
        return records


class VOCBBoxParser(VOCParser):
    """IceVision's ``VOCBBoxParser``, with IceVision's results: the ``bndbox`` values cut to
    integers and taken as the box's pixels (``one_based=False, truncate=True``).
    [`VOCParser`][efficientdet_adapter.parsers.voc.VOCParser] (the library's choice) keeps decimals
    and subtracts 1, as the VOC and
    Roboflow files mean it."""

    def __init__(self, annotations_dir: str | os.PathLike, images_dir: str | os.PathLike,
                 class_map: ClassMap | None = None, *, one_based: bool = False,
                 truncate: bool = True, check_images: bool = False,
                 show_pbar: bool | None = None):
        super().__init__(annotations_dir, images_dir, class_map, one_based=one_based,
                         truncate=truncate, check_images=check_images, show_pbar=show_pbar)

    def parse_records(self) -> list[Record]:
        """VOCParser's records, as IceVision's: each with its components listed."""
        return [ComponentRecord.from_record(r, BOX_COMPONENTS) for r in super().parse_records()]


def voc(
    annotations_dir: str | os.PathLike,
    images_dir: str | os.PathLike,
    class_map: ClassMap | None = None,
    **kwargs,
) -> VOCBBoxParser:
    """IceVision's deprecated function form ``parsers.voc(...)``: a
    [`VOCBBoxParser`][efficientdet_adapter.parsers.voc.VOCBBoxParser]."""
    return VOCBBoxParser(annotations_dir, images_dir, class_map, **kwargs)


# -- writing ---------------------------------------------------------------------------------
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
            lines.append(f"\t\t<score>{number_text(score)}</score>")
        lines += [
            "\t\t<bndbox>",
            f"\t\t\t<xmin>{number_text(x0 + offset)}</xmin>",
            f"\t\t\t<xmax>{number_text(x1 + offset)}</xmax>",
            f"\t\t\t<ymin>{number_text(y0 + offset)}</ymin>",
            f"\t\t\t<ymax>{number_text(y1 + offset)}</ymax>",
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
    named = as_splits(splits)
    class_map = resolve_class_map(named, class_map)
    offset = 1.0 if one_based else 0.0
    out_dir = Path(out_dir)
    for split, records in named.items():
        split_dir = image_dir(out_dir, split, "voc")
        split_dir.mkdir(parents=True, exist_ok=True)
        taken: set[str] = set()
        for record in records:
            file_name = place_image(record, split_dir, taken)
            objects = [(n, b.xyxy, None) for n, b in zip(box_names(record, class_map), record.bboxes)]
            xml = _voc_xml(file_name, record.width, record.height, objects, offset)
            atomic_write_text(split_dir / f"{Path(file_name).stem}.xml", xml)
    return out_dir


def write_voc_predictions(
    predictions: Sequence[Prediction],
    out_dir: str | Path,
    *,
    one_based: bool = True,
    min_score: float | None = None,
) -> list[Path]:
    """One Pascal VOC XML per image (``<image stem>.xml``), each object with a ``<score>``.

    Coordinates are written as [`write_voc`][efficientdet_adapter.parsers.voc.write_voc] writes
    them: with ``one_based`` (default, the
    convention ``VOCBBoxParser`` reads by default) each is the pixel value plus 1. Class names
    come from the prediction's class map (ids as text without one).
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for i, pred in enumerate(predictions):
        boxes, scores, label_ids = kept_detections(pred, min_score)
        names = prediction_names(pred, label_ids)
        objects = [(n, tuple(b), s) for n, b, s in zip(names, boxes, scores)]
        file_name = Path(pred.filepath).name if pred.filepath is not None else f"{i}.jpg"
        xml = _voc_xml(
            file_name, pred.width or 0, pred.height or 0, objects, 1.0 if one_based else 0.0
        )
        path = out_dir / f"{prediction_stem(pred, i)}.xml"
        atomic_write_text(path, xml)
        written.append(path)
    return written
