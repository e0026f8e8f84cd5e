"""Roboflow exports (a folder or the ``.zip``) -> records of the export's own splits.

Detected formats (per split folder ``train``, ``valid`` or ``val``, ``test``):

==========  ===================================================================================
``coco``    ``_annotations.coco.json`` (ids restart at 0 per split; the id-0 "annotation group"
            category, used by no box, is dropped and reported)
``voc``     ``*.xml`` beside the images (Roboflow's +1 coordinates are undone)
``yolo``    ``data.yaml`` + ``<split>/images`` and ``<split>/labels`` (YOLO v5/v8; the yaml's
            ``../train/images`` paths point outside the folder, so the splits are found beside
            it), or Darknet's images + ``.txt`` with ``_darknet.labels``
``csv``     TensorFlow Object Detection ``_annotations.csv`` (with its header)
==========  ===================================================================================

TFRecord, RetinaNet CSV, classification and other exports raise
[`UnsupportedFormatError`][efficientdet_adapter.base.errors.UnsupportedFormatError] saying to export COCO
or YOLO.
The work itself is done by the COCO, VOC, YOLO and CSV parsers; this class finds the splits,
builds one class map shared by all of them (the file's class order: COCO category ids, YOLO
``names``; the sorted names for VOC and CSV, which have no order, as Roboflow sorts them) and
gives records ids 0..N-1 across the whole export (train first, then valid, then test).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Hashable, Sequence
from pathlib import Path

from efficientdet_adapter.records.class_map import ClassMap, background_for
from efficientdet_adapter.base.errors import ParseError, UnsupportedFormatError
from efficientdet_adapter.records.record import Record
from efficientdet_adapter.records.splitters import DataSplitter
from efficientdet_adapter.records.images import IMAGE_EXTENSIONS
from efficientdet_adapter.parsers._zip import MAX_ZIP_BYTES, MAX_ZIP_ENTRIES, MAX_ZIP_RATIO, safe_extract
from efficientdet_adapter.parsers.base import Parser
from efficientdet_adapter.parsers.coco import COCOParser, write_coco
from efficientdet_adapter.parsers.csv import CSVBBoxParser, write_csv
from efficientdet_adapter.parsers.formats import (
    COCO_ANNOTATIONS_NAME,
    CSV_ANNOTATIONS_NAME,
    DARKNET_LABELS,
    FORMATS,
    YOLO_DATA_FILES,
    Splits,
    check_format,
)
from efficientdet_adapter.parsers.voc import VOCParser, write_voc
from efficientdet_adapter.parsers.yolo import YOLOBBoxParser, read_yolo_names, write_yolo

__all__ = ["RoboflowParser", "ROBOFLOW_FORMATS", "detect_format", "CLASS_NOT_IN_TRAIN",
           "write_export"]

logger = logging.getLogger(__name__)

#: The formats of a Roboflow export that this library reads and writes (``formats.FORMATS``).
ROBOFLOW_FORMATS = FORMATS
_SPLIT_FOLDERS = (("train",), ("valid", "val"), ("test",))
_ALIASES = {
    "coco": "coco", "coco_json": "coco", "voc": "voc", "pascal_voc": "voc", "yolo": "yolo",
    "yolov5": "yolo", "yolov8": "yolo", "darknet": "yolo", "csv": "csv", "tf_csv": "csv",
    "tensorflow": "csv",
}
CLASS_NOT_IN_TRAIN = "class with boxes only outside train (cannot be learned)"
_EXPORT_ADVICE = "export the dataset from Roboflow as 'COCO JSON' or 'YOLOv8' instead"


def _unsupported(folder: Path, what: str) -> UnsupportedFormatError:
    return UnsupportedFormatError(f"{folder}: {what}: not supported; {_EXPORT_ADVICE}")


def _detect_split(folder: Path, root: Path) -> str:
    """The format of one split folder (see the module table), or an error saying why not."""
    names = os.listdir(folder)
    lower = {n.lower() for n in names}
    if COCO_ANNOTATIONS_NAME in lower:
        return "coco"
    if CSV_ANNOTATIONS_NAME in lower:
        return "csv"  # a headerless (RetinaNet) file is refused by CSVBBoxParser, with advice
    if (folder / "images").is_dir() and (folder / "labels").is_dir():
        return "yolo"
    if DARKNET_LABELS in lower:
        return "yolo"
    if any(n.endswith(".xml") for n in lower):
        return "voc"
    if any(n.endswith((".tfrecord", ".tfrecords")) for n in lower) or any(
        n.endswith(".pbtxt") for n in lower
    ):
        raise _unsupported(folder, "a TFRecord export")
    if "_classes.csv" in lower:
        raise _unsupported(folder, "a classification export (_classes.csv)")
    subdirs = [n for n in names if (folder / n).is_dir()]
    if subdirs and not any(os.path.splitext(n)[1] in IMAGE_EXTENSIONS for n in lower):
        raise _unsupported(
            folder, f"a classification export (one folder per class: {sorted(subdirs)[:5]})"
        )
    found = sorted(names)[:8]
    raise _unsupported(
        folder,
        f"no annotation file found (looked for {COCO_ANNOTATIONS_NAME}, {CSV_ANNOTATIONS_NAME}, "
        f"images/ + labels/, *.xml; found {found})",
    )


def _split_folders(root: Path) -> dict[str, Path]:
    """``{"train": path, "valid": path, "test": path}`` for the split folders that exist."""
    found = {}
    for names in _SPLIT_FOLDERS:
        for name in names:
            if (root / name).is_dir():
                found[names[0]] = root / name
                break
    return found


def _find_root(folder: Path) -> Path:
    """``folder``, or its single sub-folder when the export sits one level down."""
    if _split_folders(folder):
        return folder
    subdirs = [p for p in folder.iterdir() if p.is_dir() and not p.name.startswith(".")]
    if len(subdirs) == 1 and _split_folders(subdirs[0]):
        return subdirs[0]
    raise ParseError(
        f"{folder}: no train, valid (or val) or test folder found; a Roboflow export has one "
        f"folder per split (found {sorted(p.name for p in folder.iterdir())[:10]})"
    )


def detect_format(root: str | os.PathLike) -> tuple[str, dict[str, Path]]:
    """``(format, {split name: folder})`` of an unzipped Roboflow export.

    Raises:
        UnsupportedFormatError: TFRecord, classification or unknown exports.
        ParseError: no split folder, or splits in different formats.

    Example:
        >>> detect_format("export")  # doctest: +SKIP
        ('coco', {'train': PosixPath('export/train'), 'valid': PosixPath('export/valid')})
    """
    root = _find_root(Path(root))
    splits = _split_folders(root)
    if (root / YOLO_DATA_FILES[0]).is_file() and all(
        (p / "images").is_dir() for p in splits.values()
    ):
        return "yolo", splits
    formats = {name: _detect_split(folder, root) for name, folder in splits.items()}
    if len(set(formats.values())) > 1:
        raise ParseError(f"{root}: the split folders hold different formats: {formats}")
    return next(iter(formats.values())), splits


class _ExportSplitter(DataSplitter):
    """The export's own splits, as recorded by
    [`RoboflowParser.parse_records`][efficientdet_adapter.parsers.roboflow.RoboflowParser.parse_records]."""

    def __init__(self, parser: "RoboflowParser"):
        self.parser = parser

    def split(self, records: Sequence[Record]) -> list[list[Hashable]]:
        return [list(self.parser.split_ids[name]) for name in self.parser.split_names]


class RoboflowParser(Parser):
    """A Roboflow export, unzipped or as the ``.zip``, parsed into its own splits.

    Args:
        path: the export folder, or the ``.zip`` Roboflow downloads (extracted safely into
            ``extract_dir``, by default a folder beside the zip named like it; reused when it
            already holds this zip's extraction).
        format: ``"auto"`` (detect), or ``"coco"``, ``"voc"``, ``"yolo"``, ``"csv"``.
        class_map: use this class map instead of the export's; names it lacks are an error.
        check_images, show_pbar: see [`Parser`][efficientdet_adapter.parsers.base.Parser].
        extract_dir, max_zip_bytes, max_zip_entries, max_zip_ratio: where and how much to
            extract from a zip (see `safe_extract`).

    Attributes:
        root: the export folder (the extraction folder for a zip).
        format: the detected format.
        split_names: the splits found, in the order ``parse`` returns them (train, valid, test).
        split_ids: record ids per split, after ``parse``.
        category_ids: COCO only: label id -> the export's category id (for writing results).
        source_ids: record id -> ``(split, the id the format's parser gave)`` (COCO image id,
            VOC file stem, index in the split).

    Example:
        >>> parser = RoboflowParser("shapes.v1i.coco.zip")  # doctest: +SKIP
        >>> train, valid, test = parser.parse()  # doctest: +SKIP
        >>> parser.split_names, parser.class_map  # doctest: +SKIP
        (['train', 'valid', 'test'], <ClassMap: {'background': 0, 'circle': 1, ...}>)
    """

    def __init__(
        self,
        path: str | os.PathLike,
        *,
        format: str = "auto",
        class_map: ClassMap | None = None,
        check_images: bool = False,
        show_pbar: bool | None = None,
        extract_dir: str | os.PathLike | None = None,
        max_zip_bytes: int = MAX_ZIP_BYTES,
        max_zip_entries: int = MAX_ZIP_ENTRIES,
        max_zip_ratio: float = MAX_ZIP_RATIO,
    ):
        super().__init__(class_map, check_images=check_images, show_pbar=show_pbar)
        path = Path(path)
        if not path.exists():
            raise ParseError(f"{path}: no such export folder or zip file")
        if path.is_file():
            target = Path(extract_dir) if extract_dir is not None else path.with_suffix("")
            if target == path:
                target = path.with_name(path.name + "_extracted")
            path = safe_extract(
                path, target, max_bytes=max_zip_bytes, max_entries=max_zip_entries,
                max_ratio=max_zip_ratio,
            )
        detected, folders = detect_format(path)
        if format != "auto":
            wanted = _ALIASES.get(format.lower())
            if wanted is None:
                raise ParseError(
                    f"unknown format {format!r}; use 'auto' or one of {ROBOFLOW_FORMATS}"
                )
            if wanted != detected:
                raise ParseError(f"{path}: format={format!r} was asked for, but this is {detected}")
        self.format = detected
        self.split_folders = folders
        self.root = next(iter(folders.values())).parent
        self.split_names = list(folders)
        self.split_ids: dict[str, list[int]] = {}
        self.category_ids: dict[int, int] = {}
        self.source_ids: dict[int, tuple[str, Hashable]] = {}

    def __len__(self) -> int:
        """Number of records in the export (reads the annotation files)."""
        total = 0
        for name in self.split_names:
            sub = self._split_parser(name)
            try:
                total += len(sub)
            except NotImplementedError:  # COCOParser: count what it parses
                total += len(sub.parse_records())
        return total

    # -- one split ------------------------------------------------------------------------
    def _split_parser(self, split: str) -> Parser:
        folder = self.split_folders[split]
        pbar = self.show_pbar
        if self.format == "coco":
            return COCOParser(folder / COCO_ANNOTATIONS_NAME, folder, show_pbar=pbar)
        if self.format == "voc":
            return VOCParser(folder, folder, show_pbar=pbar)
        if self.format == "csv":
            return CSVBBoxParser(folder / CSV_ANNOTATIONS_NAME, folder, show_pbar=pbar)
        if (folder / "images").is_dir():
            return YOLOBBoxParser(
                folder / "images", folder / "labels", self._yolo_names(), show_pbar=pbar
            )
        return YOLOBBoxParser(folder, folder, folder / DARKNET_LABELS, show_pbar=pbar)

    def _yolo_names(self) -> list[str]:
        for folder in (self.root, *self.split_folders.values()):
            for name in YOLO_DATA_FILES:
                if (folder / name).is_file():
                    return read_yolo_names(folder / name)
        raise ParseError(
            f"{self.root}: YOLO export without data.yaml; its 'names' give the class order"
        )

    # -- all splits -----------------------------------------------------------------------
    def parse_records(self) -> list[Record]:
        """Every split's records (ids 0..N-1 over the export), and the shared class map."""
        records: list[Record] = []
        self.split_ids, self.source_ids = {}, {}
        ordered: dict[Hashable, str] = {}  # class order: category id / names index -> name
        names_seen: set[str] = set()
        per_split: dict[str, dict[str, int]] = {}  # split -> class name -> boxes
        for split in self.split_names:
            sub = self._split_parser(split)
            split_records = sub.parse_records()
            self.report.update(sub.report)
            self._merge_class_order(sub, split, ordered)
            ids = []
            boxes_per_name = per_split.setdefault(split, {})
            for record in split_records:
                for name in record.labels:
                    boxes_per_name[name] = boxes_per_name.get(name, 0) + 1
                new_id = len(records)
                self.source_ids[new_id] = (split, record.record_id)
                record.record_id = new_id
                names_seen.update(record.labels)
                records.append(record)
                ids.append(new_id)
            self.split_ids[split] = ids
        self._report_classes_missing_from_train(per_split)
        if self._class_map is None:
            if self.format in ("coco", "yolo"):
                names = [ordered[k] for k in sorted(ordered)]
            else:
                names = sorted(names_seen)
            self._class_map = ClassMap(names, background=background_for(names))
        if self.format == "coco":
            cm = self._class_map
            self.category_ids = {
                cm.get_by_name(ordered[cid]): cid for cid in sorted(ordered) if ordered[cid] in cm
            }
        logger.info(
            "%s: Roboflow %s export with splits %s",
            self.root, self.format,
            {s: len(ids) for s, ids in self.split_ids.items()},
        )
        return records

    def _report_classes_missing_from_train(self, per_split: dict[str, dict[str, int]]) -> None:
        """A class with boxes in valid or test but none in train cannot be learned: kept (the
        class map stays the export's), and reported, so that its AP of 0 is not a surprise."""
        if "train" not in per_split:
            return
        trained = per_split["train"]
        for split, counts in per_split.items():
            for name, n in sorted(counts.items()):
                if split != "train" and name not in trained:
                    self.report.add(
                        CLASS_NOT_IN_TRAIN,
                        f"{self.split_folders[split]}: class {name!r} has {n} box(es) in {split} "
                        "but none in train: the model cannot learn it (its AP will be 0); add "
                        "training examples, or move some of these images to train",
                    )

    def _merge_class_order(self, sub: Parser, split: str, ordered: dict[Hashable, str]) -> None:
        """Add one split's (category id or index -> name) pairs, refusing disagreements."""
        if isinstance(sub, COCOParser):
            pairs = {cid: sub.class_map.get_by_id(label) for label, cid in sub.category_ids.items()}
        elif isinstance(sub, YOLOBBoxParser):
            pairs = dict(enumerate(sub.class_names))
        else:
            return
        for key, name in pairs.items():
            if ordered.setdefault(key, name) != name:
                raise ParseError(
                    f"{self.split_folders[split]}: class {key} is {name!r} here but "
                    f"{ordered[key]!r} in an earlier split; the splits must share one class list"
                )
        if len(set(ordered.values())) != len(ordered):
            raise ParseError(
                f"{self.split_folders[split]}: one class name has two ids across the splits: "
                f"{ordered}"
            )

    def parse(
        self,
        data_splitter: DataSplitter | None = None,
        autofix: bool = True,
        show_pbar: bool | None = None,
    ) -> list[list[Record]]:
        """The export's splits, in the order of `split_names` (train, valid, test).

        Pass a ``data_splitter`` to re-split all records instead. Other arguments as in
        [`Parser.parse`][efficientdet_adapter.parsers.base.Parser.parse].
        """
        splitter = data_splitter if data_splitter is not None else _ExportSplitter(self)
        return super().parse(splitter, autofix=autofix, show_pbar=show_pbar)

    def parse_splits(
        self, autofix: bool = True, show_pbar: bool | None = None
    ) -> dict[str, list[Record]]:
        """``{"train": records, "valid": records, "test": records}`` (the splits that exist).

        Example:
            >>> RoboflowParser("export").parse_splits()["valid"][0].labels  # doctest: +SKIP
            ['star', 'circle']
        """
        return dict(zip(self.split_names, self.parse(autofix=autofix, show_pbar=show_pbar)))


# -- writing ---------------------------------------------------------------------------------
def write_export(
    splits: Splits, out_dir: str | Path, format: str = "coco", class_map: ClassMap | None = None
) -> Path:
    """Write ``splits`` as a Roboflow export of ``format``, which
    [`RoboflowParser`][efficientdet_adapter.parsers.roboflow.RoboflowParser] reads
    back unchanged.

    ========  =================================================================================
    format    layout (``<split>`` is ``train``, ``valid`` or ``test``)
    ========  =================================================================================
    coco      ``<split>/_annotations.coco.json`` + the images; image and annotation ids restart
              at 0 in each split; category 0 is the "annotation group" that every class names
              as its supercategory and no box uses; classes are categories 1..N in class-map
              order ([`write_coco`][efficientdet_adapter.parsers.coco.write_coco]).
    voc       ``<split>/<image>.xml`` beside ``<split>/<image>.jpg``; Roboflow's 1-based pixels
              (COCO's ``x`` written as ``x + 1`` on all four values) (`write_voc`).
    yolo      ``data.yaml`` (``names`` in class-map order, ``train: ../train/images``, ...) and
              ``<split>/images/*.jpg`` + ``<split>/labels/*.txt`` (normalized ``c cx cy w h``;
              an empty file for an image without objects)
              ([`write_yolo`][efficientdet_adapter.parsers.yolo.write_yolo]).
    csv       ``<split>/_annotations.csv`` with the header
              ``filename,width,height,class,xmin,ymin,xmax,ymax`` (pixels) + the images; an
              image without objects has no row
              ([`write_csv`][efficientdet_adapter.parsers.csv.write_csv]).
    ========  =================================================================================

    Coordinates are written at full float precision (integers without a decimal point), so a
    write/parse round trip keeps boxes within 1e-6 pixels.

    Args:
        splits: ``{"train": records, "valid": records, ...}``, or a list of record lists (named
            train, valid, test in that order), or one list of records (written as ``train``).
        out_dir: the export folder (created). Image files are copied in unless they are there.
        format: one of `FORMATS`.
        class_map: class order for category ids / YOLO indices; by default the records' map.

    Returns:
        ``out_dir`` as a `Path`.

    Raises:
        ArgumentError: an unknown ``format`` (or records that cannot be written).

    Example:
        >>> write_export({"train": train_records, "valid": valid_records}, "out", format="yolo")
        ... # doctest: +SKIP
        PosixPath('out')
    """
    check_format(format)
    writer = {"coco": write_coco, "voc": write_voc, "yolo": write_yolo, "csv": write_csv}[format]
    return writer(splits, out_dir, class_map=class_map)
