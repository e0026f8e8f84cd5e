"""The VGG Image Annotator (VIA 2) JSON format: ``parsers.via(...)``, as IceVision's.

A VIA project file maps keys to images: ``{"filename", "regions": [{"shape_attributes",
"region_attributes"}]}``. ``rect`` regions are boxes; a ``polygon`` becomes the box around its
points; other shapes are skipped. A region's label is its ``region_attributes[label_field]``;
labels not in the class map are skipped (as IceVision's: VIA files often mark regions to ignore
with a label such as ``"###"``).
"""

from __future__ import annotations

import json
from collections.abc import Hashable, Iterator
from pathlib import Path
from typing import Any

from efficientdet_adapter.records.bbox import BBox
from efficientdet_adapter.records.class_map import ClassMap
from efficientdet_adapter.base.errors import ParseError
from efficientdet_adapter.records.images import oriented_size
from efficientdet_adapter.records.record import Record
from efficientdet_adapter.parsers.base import Parser

__all__ = ["via", "VIAParseError", "VIABaseParser", "VIABBoxParser"]


class VIAParseError(ParseError):
    """A VIA region has no usable label (the field is missing, or not a string)."""


class VIABaseParser(Parser):
    """Images and labels of a VIA 2 project file (or its dict); see `VIABBoxParser`.

    Args:
        annotations_filepath: the JSON file VIA exported, or its content as a dict.
        img_dir: the folder of the images it names.
        class_map: the classes to keep; regions of other labels are skipped.
        label_field: the region attribute that holds the label (``"label"``).
    """

    def __init__(self, annotations_filepath: str | Path | dict, img_dir: str | Path,
                 class_map: ClassMap, label_field: str = "label") -> None:
        super().__init__(class_map)
        if isinstance(annotations_filepath, dict):
            self.source, self.annotations_dict = "the VIA annotations dict", annotations_filepath
        else:
            self.source = str(annotations_filepath)
            try:
                self.annotations_dict = json.loads(Path(annotations_filepath).read_bytes())
            except (OSError, ValueError) as e:
                raise ParseError(f"{annotations_filepath}: not a readable VIA JSON file ({e})"
                                 ) from e
        self.img_dir = Path(img_dir)
        self.label_field = label_field

    def __iter__(self) -> Iterator[dict]:
        yield from self.annotations_dict.values()

    def __len__(self) -> int:
        return len(self.annotations_dict)

    def record_id(self, o: dict) -> Hashable:
        return o["filename"]

    def filepath(self, o: dict) -> Path:
        return self.img_dir / o["filename"]

    def _label(self, o: dict, region: dict) -> str:
        label = region.get("region_attributes", {}).get(self.label_field)
        if label is None:
            raise VIAParseError(f"{self.source}: Could not find label_field "
                                f"[{self.label_field}] while parsing [{o['filename']}]")
        if not isinstance(label, str):
            raise VIAParseError(f"{self.source}: Non-string value found in label_field "
                                f"[{self.label_field}] while parsing [{o['filename']}]")
        return label

    def _kept_regions(self, o: dict) -> list[tuple[str, dict]]:
        out = []
        for region in o.get("regions", []):
            label = self._label(o, region)
            if label in self.class_map:
                out.append((label, region["shape_attributes"]))
        return out

    def parse_fields(self, o: dict, record: Record, is_new: bool) -> None:
        if is_new:
            record.set_filepath(self.filepath(o))
            record.set_image_size(*oriented_size(self.filepath(o)))
        record.add_labels([label for label, _ in self._kept_regions(o)])


class VIABBoxParser(VIABaseParser):
    """VIA ``rect`` and ``polygon`` regions as boxes (a polygon: the box around its points)."""

    def parse_fields(self, o: dict, record: Record, is_new: bool) -> None:
        labels, boxes = [], []
        for label, shape in self._kept_regions(o):
            box = _box(shape)
            if box is not None:
                labels.append(label)
                boxes.append(box)
        if is_new:
            record.set_filepath(self.filepath(o))
            record.set_image_size(*oriented_size(self.filepath(o)))
        record.add_labels(labels)
        record.add_bboxes(boxes)


def _box(shape: dict[str, Any]) -> BBox | None:
    if shape.get("name") == "rect":
        return BBox.from_xywh(shape["x"], shape["y"], shape["width"], shape["height"])
    if shape.get("name") == "polygon":
        xs, ys = shape["all_points_x"], shape["all_points_y"]
        return BBox.from_xyxy(min(xs), min(ys), max(xs), max(ys))
    return None


def via(annotations_file: str | Path | dict, img_dir: str | Path, class_map: ClassMap,
        label_field: str = "label") -> VIABBoxParser:
    """IceVision's ``parsers.via``: a `VIABBoxParser`.

    Example:
        >>> parser = via("via_bbox.json", "images/", ClassMap(["c", "n", "o", "z"]))  # doctest: +SKIP
        >>> train, valid = parser.parse()  # doctest: +SKIP
    """
    return VIABBoxParser(annotations_file, img_dir, class_map, label_field)
