"""COCO JSON: annotations -> records (``parsers.COCOParser``; ``COCOBBoxParser`` gives IceVision's
results), and records or predictions
-> COCO files ([`write_coco`][efficientdet_adapter.parsers.coco.write_coco],
[`write_coco_results`][efficientdet_adapter.parsers.coco.write_coco_results],
[`export_batch_inferences_as_coco_annotations`][efficientdet_adapter.parsers.coco.export_batch_inferences_as_coco_annotations]).

``COCOParser``'s defaults are better than IceVision's parser in three ways: category ids map to contiguous label ids (COCO's id
gaps do not become empty classes, where IceVision built a 91-entry map for 80 classes); image
sizes come from the JSON instead of opening every image (IceVision issue #480); and records are
built in one pass over dicts keyed by image id, without deep-copying a template record per image
(about 10x faster at train2017 scale: see ``bench/parse.py``).
"""

from __future__ import annotations

import json
import os
from collections.abc import Hashable
from pathlib import Path
from typing import Any, get_args

from efficientdet_adapter.base.arguments import path_arg
from efficientdet_adapter.records.bbox import BBox
from efficientdet_adapter.records.class_map import ClassMap, background_for
from efficientdet_adapter.base.errors import ArgumentError, ClassMapError, ParseError
from efficientdet_adapter.records.record import Record
from efficientdet_adapter.parsers._paths import safe_join
from efficientdet_adapter.parsers.base import UNUSED_CATEGORY, Parser, ParseReport
from efficientdet_adapter.parsers.coco_write import (  # re-exported: the COCO writers live there
    coco_results,
    export_batch_inferences_as_coco_annotations,
    write_coco,
    write_coco_results,
)
from efficientdet_adapter.parsers.formats import (
    CocoClassIds,
    CocoOrder,
    coco_id_class_map,
)

__all__ = [
    "COCOParser",
    "coco_results",
    "coco_categories",
    "write_coco",
    "write_coco_results",
    "export_batch_inferences_as_coco_annotations",
]


def coco_categories(
    categories: list[dict[str, Any]],
    annotations: list[Any],
    *,
    source: str,
    report: ParseReport,
) -> tuple[list[str], list[int]]:
    """Class names and category ids, in category-id order, without Roboflow's group entry.

    A category that no box uses and whose name is the ``supercategory`` of other categories is
    Roboflow's project-level "annotation group" (its id 0): it is dropped and reported under
    ``UNUSED_CATEGORY``. It is kept if a box uses it. Other categories are always kept, used or
    not, so that a subset of COCO keeps COCO's 80 classes.

    Raises:
        ParseError: a category without an integer ``id`` or a ``name``, or a repeated id.
    """
    cats: dict[int, str] = {}
    supers: set[str] = set()
    for i, c in enumerate(categories):
        try:
            cid, name = c["id"], c["name"]
        except (KeyError, TypeError):
            raise ParseError(
                f"{source}: categories[{i}] needs an 'id' and a 'name', got {c!r}"
            ) from None
        if not isinstance(cid, int) or isinstance(cid, bool) or not isinstance(name, str):
            raise ParseError(
                f"{source}: categories[{i}] has id {cid!r} and name {name!r}; expected an "
                "integer id and a string name"
            )
        if cid in cats:
            raise ParseError(f"{source}: category id {cid} appears twice ({cats[cid]!r}, {name!r})")
        cats[cid] = name
        sup = c.get("supercategory")
        if isinstance(sup, str) and sup != name:
            supers.add(sup)
    # Only a category named as another's supercategory can be the group entry; the annotations
    # are scanned for those alone (none in COCO itself, so train2017 skips the scan).
    candidates = {cid for cid, name in cats.items() if name in supers}
    used = (
        {a.get("category_id") for a in annotations if isinstance(a, dict)} & candidates
        if candidates
        else set()
    )
    names, ids = [], []
    for cid in sorted(cats):
        name = cats[cid]
        if cid in candidates and cid not in used:
            report.add(
                UNUSED_CATEGORY,
                f"{source}: category {cid} {name!r} (the supercategory of the other categories, "
                "as in Roboflow exports, and used by no box)",
            )
            continue
        names.append(name)
        ids.append(cid)
    return names, ids


def _bbox_builder() -> tuple:
    """``object.__new__`` and the slot setters of [`BBox`][efficientdet_adapter.records.bbox.BBox] (see the
    hot loop below)."""
    return (object.__new__, BBox.xmin.__set__, BBox.ymin.__set__, BBox.xmax.__set__,
            BBox.ymax.__set__)


class COCOParser(Parser):
    """A COCO detection JSON (``images``, ``annotations``, ``categories``) -> records: the
    library's choices (see `COCOBBoxParser` for IceVision's).

    Records have ``record_id`` = the COCO image id, ``filepath`` = ``img_dir / file_name``, the
    size from the JSON, and per box: the label, ``iscrowd`` and ``area``. The class map lists the
    categories in id order, and ``parser.category_ids[label_id]`` gives back the COCO category id
    (for writing results). Boxes are ``[x, y, w, h]`` pixels.

    Args:
        annotations_filepath: the JSON file, or its content as a dict.
        img_dir: folder the ``file_name`` values are relative to.
        keep_negatives: keep images without annotations as negative samples (default); with
            ``False`` they are left out.
        class_ids: ``"contiguous"`` (default) or ``"coco"`` (see `CocoClassIds`).
        order: ``"images"`` (default) or ``"annotations"`` (see `CocoOrder`).
        idmap: an [`IDMap`][efficientdet_adapter.compat.IDMap]: record ids become its ids for
            the image ids (IceVision's ``idmap=``).
        check_images, show_pbar: see [`Parser`][efficientdet_adapter.parsers.base.Parser].

    Example:
        >>> parser = COCOParser("coco/annotations.json", "coco/images")  # doctest: +SKIP
        >>> train, valid = parser.parse()  # doctest: +SKIP
        >>> parser.category_ids[1]  # doctest: +SKIP
        1
    """

    def __init__(
        self,
        annotations_filepath: str | os.PathLike | dict,
        img_dir: str | os.PathLike,
        *,
        keep_negatives: bool = True,
        class_ids: CocoClassIds = "contiguous",
        order: CocoOrder = "images",
        idmap: Any = None,
        check_images: bool = False,
        show_pbar: bool | None = None,
    ):
        super().__init__(None, check_images=check_images, show_pbar=show_pbar)
        for name, value, kind in (("class_ids", class_ids, CocoClassIds),
                                  ("order", order, CocoOrder)):
            if value not in get_args(kind):
                raise ArgumentError(f"{type(self).__name__}: {name}={value!r} is not one of "
                                    f"{list(get_args(kind))}")
        self._given_dict = annotations_filepath if isinstance(annotations_filepath, dict) else None
        self.annotations_filepath = (Path("<annotations dict>") if self._given_dict is not None
                                     else path_arg(annotations_filepath, "annotations_filepath"))
        self.img_dir = path_arg(img_dir, "img_dir")
        self.keep_negatives = keep_negatives
        self.class_ids = class_ids
        self.order = order
        self.idmap = idmap
        self.category_ids: dict[int, int] = {}

    @property
    def annotations_dict(self) -> dict[str, Any]:
        """The COCO JSON as a dict (IceVision's attribute; read from the file when needed)."""
        return self._given_dict if self._given_dict is not None else self._load()

    def _load(self) -> dict[str, Any]:
        src = self.annotations_filepath
        if self._given_dict is not None:
            data = self._given_dict
            self._check_keys(data)
            return data
        try:
            with open(src, "rb") as f:
                data = json.load(f)
        except FileNotFoundError:
            raise ParseError(f"{src}: COCO annotation file not found") from None
        except (json.JSONDecodeError, UnicodeDecodeError) as e:
            raise ParseError(f"{src}: malformed JSON ({e})") from None
        except RecursionError:
            raise ParseError(
                f"{src}: JSON nested too deeply to read (thousands of levels; a COCO file has "
                "five): the file is damaged or crafted, re-export it"
            ) from None
        except OSError as e:
            raise ParseError(f"{src}: cannot read the annotation file ({e})") from None
        self._check_keys(data)
        return data

    def _check_keys(self, data: Any) -> None:
        src = self.annotations_filepath
        if not isinstance(data, dict):
            raise ParseError(f"{src}: expected a JSON object with 'images', 'annotations' and "
                             f"'categories', got a {type(data).__name__}")
        for key in ("images", "annotations", "categories"):
            if not isinstance(data.get(key), list):
                raise ParseError(
                    f"{src}: the {key!r} list is missing (keys found: {sorted(data)}); is this a "
                    "COCO detection file?"
                )

    def parse_records(self) -> list[Record]:
        src = str(self.annotations_filepath)
        data = self._load()
        annotations = data["annotations"]

        names, cat_ids = coco_categories(
            data["categories"], annotations, source=src, report=self.report
        )
        if self.class_ids == "coco":
            class_map, cat2label = coco_id_class_map(names, cat_ids, src)
            self.category_ids = {label: cid for cid, (_, label) in cat2label.items()}
        else:
            try:
                class_map = ClassMap(names, background=background_for(names))
            except ClassMapError as e:
                raise ParseError(f"{src}: categories cannot form a class map: {e}") from None
            first = len(class_map) - len(names)  # 1 with the background class
            self.category_ids = {first + k: cid for k, cid in enumerate(cat_ids)}
            cat2label = {cid: (name, first + k)
                         for k, (cid, name) in enumerate(zip(cat_ids, names))}
        self._class_map = class_map

        # image id -> (record, width, height), in the file's image order
        records: dict[Hashable, tuple[Record, float, float]] = {}
        img_dir = self.img_dir
        for i, im in enumerate(data["images"]):
            try:
                image_id, file_name = im["id"], im["file_name"]
            except (KeyError, TypeError):
                raise ParseError(
                    f"{src}: images[{i}] needs an 'id' and a 'file_name', got {im!r}"
                ) from None
            if image_id in records:
                raise ParseError(f"{src}: image id {image_id!r} appears twice ({file_name!r})")
            try:
                width, height = int(im.get("width") or 0), int(im.get("height") or 0)
            except (TypeError, ValueError):
                raise ParseError(
                    f"{src}: image {image_id!r} ({file_name!r}) has a non-numeric width/height"
                ) from None
            path = safe_join(img_dir, file_name, annotation=f"{src}, image id {image_id!r}")
            record = Record(image_id, path, width, height, [], [], [], [], [], class_map=class_map)
            records[image_id] = (record, float(width), float(height))

        # One pass over the annotations, the hot loop at train2017 scale (860k boxes): boxes are
        # compared with their image here (so Parser.parse re-checks only the suspects) and built
        # through BBox's slots, which is twice as fast as its frozen-dataclass __init__.
        suspects: set[Hashable] = set()
        new, set_x0, set_y0, set_x1, set_y1 = _bbox_builder()
        for a in annotations:
            try:
                record, img_w, img_h = records[a["image_id"]]
                name, label_id = cat2label[a["category_id"]]
                x, y, w, h = a["bbox"]
                x0, y0 = float(x), float(y)
                x1, y1 = x0 + float(w), y0 + float(h)
                area = a.get("area")
                area = (x1 - x0) * (y1 - y0) if area is None else float(area)
            except Exception as e:  # the rare path: say exactly what is wrong
                raise self._annotation_error(a, records, cat2label, e) from None
            if not (0.0 <= x0 < x1 <= img_w and 0.0 <= y0 < y1 <= img_h):  # also NaN
                suspects.add(record.record_id)
            box = new(BBox)
            set_x0(box, x0)
            set_y0(box, y0)
            set_x1(box, x1)
            set_y1(box, y1)
            record.bboxes.append(box)
            record.labels.append(name)
            record.label_ids.append(label_id)
            record.iscrowds.append(a.get("iscrowd") == 1)
            record.areas.append(area)
        self._box_suspects = suspects

        out = [entry[0] for entry in records.values()]
        if self.order == "annotations":  # by first appearance; images without any at the end
            first_seen = dict.fromkeys(a.get("image_id") for a in annotations)
            rank = {image_id: k for k, image_id in enumerate(first_seen)}
            out.sort(key=lambda r: rank.get(r.record_id, len(rank)))
        if not self.keep_negatives:
            out = [r for r in out if r.bboxes]
        if self.idmap is not None:
            for r in out:
                r.record_id = self.idmap[r.record_id]
            self._box_suspects = {self.idmap[i] for i in suspects}
        return out

    def _annotation_error(
        self, a: Any, records: dict, cat2label: dict, e: Exception
    ) -> ParseError:
        src = self.annotations_filepath
        if not isinstance(a, dict):
            return ParseError(f"{src}: an annotation is {a!r}, not a JSON object")
        where = f"{src}, annotation id {a.get('id', '?')!r}"
        for key in ("image_id", "category_id", "bbox"):
            if key not in a:
                return ParseError(f"{where}: the {key!r} field is missing")
        if a["image_id"] not in records:
            return ParseError(f"{where}: image_id {a['image_id']!r} is not in 'images'")
        if a["category_id"] not in cat2label:
            return ParseError(
                f"{where}: category_id {a['category_id']!r} is not in 'categories' "
                f"(ids: {sorted(cat2label)})"
            )
        bbox = a["bbox"]
        if not (isinstance(bbox, list) and len(bbox) == 4):
            return ParseError(f"{where}: bbox {bbox!r} is not four numbers [x, y, width, height]")
        return ParseError(f"{where}: bbox {bbox!r} or area {a.get('area')!r} is not numeric ({e})")

