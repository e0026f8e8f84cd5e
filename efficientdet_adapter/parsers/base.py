"""The ``Parser`` base class: annotation files -> checked, split lists of
[`Record`][efficientdet_adapter.records.record.Record].

Two ways to write a parser:

* **IceVision's protocol** (custom formats): implement ``__iter__`` (raw items), ``__len__``,
  ``record_id(o)`` and ``parse_fields(o, record, is_new)``; items with the same record id are
  merged into one record.
* **Fast path** (built-in parsers): override
  [`Parser.parse_records`][efficientdet_adapter.parsers.base.Parser.parse_records] and return the
  records
  in one pass; optionally set ``self._class_map`` (a class order read from the files) and add
  notes to ``self.report``.

Either way [`Parser.parse`][efficientdet_adapter.parsers.base.Parser.parse] then finalizes the class
map, resolves ``label_ids``, checks and
auto-fixes every record (counting each fix in
[`ParseReport`][efficientdet_adapter.parsers.base.ParseReport]) and splits.
"""

from __future__ import annotations

import copy
import gc
import inspect
import logging
import sys
from collections.abc import Hashable, Iterable, Iterator
from pathlib import Path
from typing import Any, TypeVar

from efficientdet_adapter.records.bbox import BBox
from efficientdet_adapter.records.class_map import ClassMap
from efficientdet_adapter.base.errors import ArgumentError, ImageLoadError, ParseError
from efficientdet_adapter.records.images import pil_orientation, regular_file, swaps_sides
from efficientdet_adapter.records.collection import RecordCollection
from efficientdet_adapter.records.record import Record
from efficientdet_adapter.records.size_check import fit_record
from efficientdet_adapter.records.splitters import DataSplitter, RandomSplitter
from efficientdet_adapter.parsers._cache import has_cache, load_cache, save_cache
from efficientdet_adapter.parsers._paths import FolderListing, safe_join
from efficientdet_adapter.parsers.report import (  # re-exported: the report and its reasons live there
    MISSING_IMAGE,
    CLIPPED_BOX,
    DROPPED_BOX,
    SIZE_MISMATCH,
    EXIF_ROTATION,
    RESIZED,
    UNUSED_CATEGORY,
    SKIPPED_RECORD,
    UNREADABLE_IMAGE,
    NONFINITE_BOX,
    AbortParseRecord,
    ParseReport,
    check_lengths,
    fix_boxes,
)

__all__ = [
    "Parser",
    "ParseReport",
    "AbortParseRecord",
    "progress",
    "safe_join",
    "MISSING_IMAGE",
    "CLIPPED_BOX",
    "DROPPED_BOX",
    "SIZE_MISMATCH",
    "EXIF_ROTATION",
    "RESIZED",
    "UNUSED_CATEGORY",
    "SKIPPED_RECORD",
    "UNREADABLE_IMAGE",
    "NONFINITE_BOX",
]

logger = logging.getLogger(__name__)

T = TypeVar("T")


def progress(items: Iterable[T], *, total: int | None, desc: str, show: bool | None) -> Iterable[T]:
    """``items`` wrapped in a tqdm bar; quiet when ``show`` is False or stderr is not a terminal."""
    if show is None:
        show = sys.stderr.isatty()
    if not show:
        return items
    from tqdm import tqdm  # noqa: PLC0415

    return tqdm(items, total=total, desc=desc, leave=False)


class Parser:
    """Base class of every parser; subclass it for a custom format, as in IceVision.

    Args:
        class_map: the class map to use. Without one, ``parse`` builds one from the names found,
            sorted (built-in parsers of formats with a class order, COCO and YOLO, use the file's
            order instead). With one, names it lacks are an error that lists them.
        check_images: open every image header to compare its size (and EXIF orientation) with
            the annotation. Off by default: it is slow at scale (IceVision issue #480).
        show_pbar: progress bar; ``None`` shows one only when stderr is a terminal.
        template_record: IceVision's record built from components
            (``BaseRecord((FilepathRecordComponent(), ...))``): each record starts as a copy of
            it. Without one, records are this library's plain ``Record`` (the fast path).

    Example:
        >>> class MyParser(Parser):
        ...     def __init__(self, rows):
        ...         super().__init__(ClassMap(["cat"]))
        ...         self.rows = rows
        ...     def __iter__(self): return iter(self.rows)
        ...     def __len__(self): return len(self.rows)
        ...     def record_id(self, o): return o["file"]
        ...     def parse_fields(self, o, record, is_new):
        ...         if is_new:
        ...             record.set_filepath(o["file"]); record.set_img_size((64, 48))
        ...         record.detection.add_labels([o["label"]])
        ...         record.detection.add_bboxes([BBox.from_xyxy(*o["box"])])
        >>> rows = [{"file": "a.jpg", "label": "cat", "box": (1, 2, 30, 40)}]
        >>> recs = MyParser(rows).parse_records()
        >>> recs[0].labels, recs[0].bboxes[0].xyxy
        (['cat'], (1.0, 2.0, 30.0, 40.0))
    """

    def __init__(
        self,
        class_map: ClassMap | None = None,
        *,
        check_images: bool = False,
        show_pbar: bool | None = None,
        template_record: Any = None,
    ):
        if class_map is not None and not isinstance(class_map, ClassMap):
            raise ArgumentError(
                f"class_map must be a ClassMap or None, got {type(class_map).__name__} "
                "(IceVision's template_record is not needed here; pass it by keyword or drop it)"
            )
        self._class_map: ClassMap | None = class_map
        self._given_class_map = class_map is not None
        self.check_images = check_images
        self.show_pbar = show_pbar
        self.report = ParseReport()
        self.template_record = template_record
        # A fast parser that already compared every box with its record's size may set this (in
        # parse_records) to the ids of the records with a box outside the image or without area;
        # only those get the box checks. None (the default): check every record.
        self._box_suspects: set[Hashable] | None = None

    # -- the class map ---------------------------------------------------------------------
    @property
    def class_map(self) -> ClassMap:
        """The class map: the given one, or the one ``parse`` fills.

        It is live, as in IceVision: read before ``parse`` it is an empty map (background
        only) that the parse then fills in place, so a reference taken early sees the classes.
        """
        if self._class_map is None:
            self._class_map = ClassMap()
        return self._class_map

    @class_map.setter
    def class_map(self, value: ClassMap | None) -> None:  # IceVision parsers assign it
        self._class_map = value
        self._given_class_map = value is not None

    # -- IceVision's protocol (custom parsers implement these) ------------------------------
    def __iter__(self) -> Iterator[Any]:
        raise NotImplementedError(
            f"{type(self).__name__} must implement __iter__ (yield raw items), __len__, "
            "record_id(o) and parse_fields(o, record, is_new), or override parse_records()"
        )

    def __len__(self) -> int:
        raise NotImplementedError(f"{type(self).__name__} must implement __len__")

    def record_id(self, o: Any) -> Hashable:
        raise NotImplementedError(f"{type(self).__name__} must implement record_id(o)")

    def parse_fields(self, o: Any, record: Record, is_new: bool) -> None:
        raise NotImplementedError(
            f"{type(self).__name__} must implement parse_fields(o, record, is_new)"
        )

    def prepare(self, o: Any) -> None:
        """Optional hook called on each item before ``record_id`` (IceVision's ``prepare``)."""

    @staticmethod
    def generate_template(template_record: Any = None) -> str:
        """Print (and return) the skeleton of a custom parser, as IceVision's did.

        Example:
            >>> _ = Parser.generate_template()  # doctest: +ELLIPSIS
            class MyParser(Parser):
            ...
        """
        template = (
            "class MyParser(Parser):\n"
            "    def __init__(self, template_record):\n"
            "        super().__init__(template_record=template_record)\n"
            "    def __iter__(self) -> Any:\n"
            "    def __len__(self) -> int:\n"
            "    def record_id(self, o: Any) -> Hashable:\n"
            "    def parse_fields(self, o: Any, record: BaseRecord, is_new: bool):\n"
            "        record.set_img_size(<ImgSize>)\n"
            "        record.set_filepath(<Union[str, Path]>)\n"
            "        record.detection.set_class_map(<ClassMap>)\n"
            "        record.detection.add_labels(<Sequence[Hashable]>)\n"
            "        record.detection.add_bboxes(<Sequence[BBox]>)"
        )
        print(template)
        return template

    # -- parsing ----------------------------------------------------------------------------
    def parse_records(self) -> list[Record]:
        """All records, in parse order (override this for a fast built-in parser).

        The default runs IceVision's protocol: one record per distinct ``record_id(o)``, with
        ``parse_fields`` called for every item (``is_new`` True on a record's first item).
        """
        takes_is_new = _takes_is_new(self.parse_fields)
        records: dict[Hashable, Record] = {}
        skipped: set[Hashable] = set()
        try:
            total: int | None = len(self)
        except (NotImplementedError, TypeError):
            total = None
        for o in progress(self, total=total, desc=type(self).__name__, show=self.show_pbar):
            rid: Hashable = "?"
            try:
                self.prepare(o)
                rid = self.record_id(o)
                if rid in skipped:
                    continue
                record = records.get(rid)
                is_new = record is None
                if record is None:
                    record = records[rid] = self.create_record()
                    record.set_record_id(rid)
                record.is_new = is_new
                if takes_is_new:
                    self.parse_fields(o, record, is_new)
                else:
                    self.parse_fields(o, record)  # IceVision < 0.12 signature
            except AbortParseRecord as e:
                records.pop(rid, None)
                skipped.add(rid)
                self.report.add(SKIPPED_RECORD, f"record {rid!r}: {e}")
        return list(records.values())

    def parse(
        self,
        data_splitter: DataSplitter | None = None,
        autofix: bool = True,
        show_pbar: bool | None = None,
        cache_filepath: str | Path | None = None,
    ) -> list[RecordCollection]:
        """Parse, check, auto-fix and split the records.

        Args:
            data_splitter: defaults to ``RandomSplitter([0.8, 0.2], seed=42)``.
            autofix: clip boxes to the image, drop boxes with no area left (with their label,
                iscrowd and area) and drop records whose image file is missing, counting each
                fix in ``self.report``. With ``False`` the first problem raises
                [`ParseError`][efficientdet_adapter.base.errors.ParseError] naming the file and the
                annotation.
            show_pbar: overrides the parser's ``show_pbar`` for this call.
            cache_filepath: a pickle of the splits: loaded when it exists, else written.

        Returns:
            One `RecordCollection` (a list of
            records) per split, in the splitter's order.

        Raises:
            ParseError: malformed input, a label/box count mismatch, class names missing from
                a given class map, or (``autofix=False``) any fixable problem.
        """
        if has_cache(cache_filepath):
            return load_cache(cache_filepath)
        if show_pbar is not None:
            self.show_pbar = show_pbar
        self.report = ParseReport()
        self._box_suspects = None
        live = None if self._given_class_map else self._class_map
        if not self._given_class_map:
            self._class_map = None  # rebuilt from this parse's names (or set by parse_records)
        # A parse creates millions of small acyclic objects (JSON dicts, boxes, lists); the cyclic
        # garbage collector would rescan all of them again and again (~30% of a COCO parse).
        gc_was_enabled = gc.isenabled()
        gc.disable()
        try:
            records = self.parse_records()
            class_map = self._finalize_class_map(records)
            if live is not None and self._class_map is not live and not self._given_class_map:
                live.assign(class_map)  # a map handed out before the parse sees its classes
                class_map = self._class_map = live
            kept = self._check_records(records, class_map, autofix)
        finally:
            if gc_was_enabled:
                gc.enable()
        splitter = data_splitter or RandomSplitter([0.8, 0.2], seed=42)
        splits = [  # IceVision's RecordCollection: a list of records with its methods
            RecordCollection([kept[i] for i in ids if i in kept]) for ids in splitter.split(records)
        ]
        level = logging.WARNING if len(kept) < len(records) else logging.INFO
        logger.log(
            level,
            "%s: %d records (%s) in %d split(s) of %s; %s",
            type(self).__name__,
            len(kept),
            f"{len(records) - len(kept)} dropped" if len(kept) < len(records) else "none dropped",
            len(splits),
            [len(s) for s in splits],
            self.report.summary(),
        )
        if cache_filepath is not None:
            save_cache(cache_filepath, splits)
        return splits

    def create_record(self) -> Record:
        """An empty record: a copy of ``template_record``, or a plain
        [`Record`][efficientdet_adapter.records.record.Record]."""
        if self.template_record is None:
            return Record(record_id=None, filepath=None, width=0, height=0)
        return copy.deepcopy(self.template_record)

    def _check_path(self, path: str | Path | None = None) -> bool:  # IceVision's name
        return has_cache(path)

    # -- steps of parse ---------------------------------------------------------------------
    def _finalize_class_map(self, records: list[Record]) -> ClassMap:
        names: set[str] = set()
        for r in records:
            names.update(r.labels)
        class_map = self._class_map
        if class_map is None:
            class_map = self._class_map = ClassMap.from_names(names)
        unknown = sorted(n for n in names if n not in class_map)
        if unknown:
            raise ParseError(
                f"{type(self).__name__}: {len(unknown)} class name(s) in the annotations are not "
                f"in the class map: {unknown}; class map has {class_map.get_classes()}. Add them "
                "to the class map, or pass class_map=None to build one from the annotations"
            )
        return class_map

    def _check_records(
        self, records: list[Record], class_map: ClassMap, autofix: bool
    ) -> dict[Hashable, Record]:
        """Resolve label ids, check every record and apply the fixes; returns the kept ones."""
        class2id = class_map._class2id
        listing = FolderListing()
        kept: dict[Hashable, Record] = {}
        seen: set[Hashable] = set()
        report = self.report
        suspects = self._box_suspects
        for r in records:
            if r.record_id in seen:
                raise ParseError(
                    f"{type(self).__name__}: record id {r.record_id!r} appears twice "
                    f"({r.filepath}); record ids must be unique"
                )
            seen.add(r.record_id)
            n = len(r.bboxes)
            check_lengths(r, n)
            if r.class_map is not class_map or len(r.label_ids) != n:
                r.label_ids = [class2id[name] for name in r.labels]
                r.class_map = class_map
            if r.filepath is not None and r.img is None:
                if not listing.exists(r.filepath):
                    if not autofix:
                        raise ParseError(
                            f"{r.filepath}: image file not found (record {r.record_id!r}, "
                            f"{n} boxes); add the image or remove its annotation"
                        )
                    report.add(MISSING_IMAGE, str(r.filepath))
                    continue
                if r.width <= 0 or r.height <= 0:
                    if not self._check_image_size(r, autofix):
                        continue
                    if suspects is not None:
                        suspects.add(r.record_id)  # its boxes were never compared with a size
                elif self.check_images and not self._check_image_size(r, autofix):
                    continue
            elif r.img is not None and (r.width <= 0 or r.height <= 0):
                r.height, r.width = r.img.shape[:2]
            if r.filepath is None and r.img is None:
                raise ParseError(
                    f"{type(self).__name__}: record {r.record_id!r} has neither a filepath nor "
                    "an image; call record.set_filepath(...) in parse_fields"
                )
            if n and (suspects is None or r.record_id in suspects):
                fix_boxes(r, autofix, report)
            kept[r.record_id] = r
        return kept

    def _check_image_size(self, r: Record, autofix: bool) -> bool:
        """Fill a missing size from the header, or compare it; False: drop the record."""
        try:
            stored_w, stored_h, orientation = _header(r)
        except ParseError as e:
            if not autofix:
                raise
            self.report.add(UNREADABLE_IMAGE, str(e))
            return False
        swaps = swaps_sides(orientation)
        shown = (stored_h, stored_w) if swaps else (stored_w, stored_h)
        if r.width <= 0 or r.height <= 0:  # no size in the annotation: use what loads
            r.width, r.height = shown
            return True
        try:  # one rule with the batches' check (size_check): fix what has one reading
            fixed, reason = fit_record(r, *shown, orientation)
        except ImageLoadError as e:
            if not autofix:
                raise ParseError(str(e)) from None
            self.report.add(SIZE_MISMATCH, str(e))
            return False
        if reason is None:
            return True
        msg = (
            f"{r.filepath}: the annotation says {r.width}x{r.height}, the image loads as "
            f"{shown[0]}x{shown[1]}"
        )
        if reason == EXIF_ROTATION:
            msg += (
                f" (stored {stored_w}x{stored_h}, EXIF orientation {orientation} turns it, "
                "IceVision issue #1096): the boxes were drawn on the raw pixels, so they are "
                "turned with the image"
            )
        else:
            msg += ": same aspect ratio, so the boxes are scaled to the image"
        if not autofix:
            raise ParseError(f"{msg}; parse with autofix=True to apply this, or re-export the "
                             "images (e.g. with Roboflow's auto-orient)")
        r.bboxes, r.areas, r.width, r.height = fixed.bboxes, fixed.areas, fixed.width, fixed.height
        self.report.add(reason, msg)
        return True


def _header(r: Record) -> tuple[int, int, int]:
    """Stored ``width, height`` and EXIF orientation of the record's image: one header read."""
    from PIL import Image, UnidentifiedImageError  # noqa: PLC0415

    try:
        regular_file(r.filepath)  # a FIFO would block Image.open forever
    except ImageLoadError as e:
        raise ParseError(f"{e} (record {r.record_id!r})") from None
    try:
        with Image.open(r.filepath) as im:
            orientation = pil_orientation(im)
            return im.size[0], im.size[1], orientation
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError,
            Image.DecompressionBombError) as e:
        advice = ("raise PIL.Image.MAX_IMAGE_PIXELS if you trust it, or resize it"
                  if isinstance(e, Image.DecompressionBombError) else "replace or remove the file")
        raise ParseError(
            f"{r.filepath}: cannot read the image header ({e}) (record {r.record_id!r}); {advice}"
        ) from None


def _takes_is_new(method: Any) -> bool:
    try:
        params = inspect.signature(method).parameters
    except (TypeError, ValueError):
        return True
    return len(params) >= 3 or any(p.kind is p.VAR_POSITIONAL for p in params.values())
