"""TensorFlow Object Detection CSV (Roboflow's ``_annotations.csv``) -> records, and records ->
CSV files ([`write_csv`][efficientdet_adapter.parsers.csv.write_csv]).

The file has the header ``filename,width,height,class,xmin,ymin,xmax,ymax`` and one row per box,
in pixels. An image without objects has no row, so the image folder is listed to keep those
images as negative samples. A headerless ``_annotations.csv`` is Roboflow's RetinaNet export
(``path,x1,y1,x2,y2,class``), which is refused with a message saying what to export instead.
"""

from __future__ import annotations

import csv
import io
import os
from pathlib import Path

from efficientdet_adapter.base.arguments import path_arg
from efficientdet_adapter.base.atomic import atomic_write_text
from efficientdet_adapter.records.bbox import BBox
from efficientdet_adapter.records.class_map import ClassMap
from efficientdet_adapter.base.errors import ParseError, UnsupportedFormatError
from efficientdet_adapter.records.record import Record
from efficientdet_adapter.records.images import list_image_files
from efficientdet_adapter.parsers.base import Parser, progress, safe_join
from efficientdet_adapter.parsers.formats import (
    CSV_ANNOTATIONS_NAME,
    CSV_HEADER,
    Splits,
    as_splits,
    box_names,
    image_dir,
    number_text,
    place_image,
    resolve_class_map,
)

__all__ = ["CSVBBoxParser", "CSV_COLUMNS", "write_csv"]

#: The columns a TF Object Detection CSV must have (``formats.CSV_HEADER``, its one home).
CSV_COLUMNS = CSV_HEADER


def _looks_like_retinanet(row: list[str]) -> bool:
    """``path,x1,y1,x2,y2,class`` (boxes numeric, or all empty for a negative)."""
    if len(row) != 6:
        return False
    try:
        [float(v) for v in row[1:5]]
    except ValueError:
        return all(not v.strip() for v in row[1:])
    return True


class CSVBBoxParser(Parser):
    """Parse a TensorFlow Object Detection CSV into records.

    Records come in image file-name order with ids 0..N-1: every image listed in the CSV, plus
    every image file in ``images_dir`` that has no row (a negative, its size read from the
    header). Without a ``class_map`` the classes are sorted by name (the CSV has no class
    order; Roboflow's exports sort them the same way).

    Args:
        csv_filepath: the ``_annotations.csv`` file.
        images_dir: folder of the images; default: the CSV's folder.
        class_map: use this class map; names it lacks are an error.
        list_images: also keep images of ``images_dir`` that have no row, as negatives.
        check_images, show_pbar: see [`Parser`][efficientdet_adapter.parsers.base.Parser].

    Raises (on parse):
        UnsupportedFormatError: a headerless file (Roboflow's RetinaNet export).
        ParseError: a missing column, a non-numeric value, or one image with two sizes.

    Example:
        >>> train, valid = CSVBBoxParser("export/train/_annotations.csv").parse()  # doctest: +SKIP
    """

    def __init__(
        self,
        csv_filepath: str | os.PathLike,
        images_dir: str | os.PathLike | None = None,
        class_map: ClassMap | None = None,
        *,
        list_images: bool = True,
        check_images: bool = False,
        show_pbar: bool | None = None,
    ):
        super().__init__(class_map, check_images=check_images, show_pbar=show_pbar)
        self.csv_filepath = path_arg(csv_filepath, "csv_filepath")
        self.images_dir = (path_arg(images_dir, "images_dir") if images_dir is not None
                           else self.csv_filepath.parent)
        self.list_images = list_images

    def _read_rows(self) -> tuple[list[str], list[list[str]]]:
        path = self.csv_filepath
        try:
            with open(path, newline="", encoding="utf-8-sig") as f:
                rows = [row for row in csv.reader(f) if any(v.strip() for v in row)]
        except FileNotFoundError:
            raise ParseError(f"{path}: CSV annotation file not found") from None
        except (OSError, UnicodeDecodeError, csv.Error) as e:
            raise ParseError(f"{path}: cannot read the CSV ({e})") from None
        if not rows:
            raise ParseError(f"{path}: empty file; expected the header {','.join(CSV_COLUMNS)}")
        header = [v.strip().lower() for v in rows[0]]
        if "filename" not in header:
            if _looks_like_retinanet(rows[0]):
                raise UnsupportedFormatError(
                    f"{path}: no header row, and rows look like 'path,x1,y1,x2,y2,class': this is "
                    "Roboflow's RetinaNet (Keras) CSV export, which is not supported. Export the "
                    "dataset as COCO JSON or YOLO (or 'Tensorflow Object Detection CSV') instead"
                )
            raise ParseError(
                f"{path}: no header row; expected the columns {','.join(CSV_COLUMNS)} "
                f"(first row: {','.join(rows[0])})"
            )
        missing = [c for c in CSV_COLUMNS if c not in header]
        if missing:
            raise ParseError(
                f"{path}: missing column(s) {missing}; a TensorFlow Object Detection CSV has "
                f"{','.join(CSV_COLUMNS)}"
            )
        return header, rows[1:]

    def __len__(self) -> int:
        """Number of records: the images named in the CSV, plus the folder's other images."""
        header, rows = self._read_rows()
        col = header.index("filename")
        paths = {safe_join(self.images_dir, r[col].strip(), annotation=self.csv_filepath)
                 for r in rows if len(r) > col}
        if self.list_images and self.images_dir.is_dir():
            paths.update(list_image_files(self.images_dir))
        return len(paths)

    def parse_records(self) -> list[Record]:
        """One record per image (rows grouped by file name), plus the images without rows."""
        header, rows = self._read_rows()
        col = {c: header.index(c) for c in CSV_COLUMNS}
        by_name: dict[str, Record] = {}
        path = self.csv_filepath
        for line_no, row in enumerate(
            progress(rows, total=len(rows), desc="CSV", show=self.show_pbar), start=2
        ):
            where = f"{path}, line {line_no}"
            if len(row) < len(header):
                raise ParseError(f"{where}: {len(row)} values for {len(header)} columns: {row}")
            name = row[col["filename"]].strip()
            try:
                width, height = int(float(row[col["width"]])), int(float(row[col["height"]]))
                box = BBox.from_xyxy(*(float(row[col[c]]) for c in CSV_COLUMNS[4:]))
            except ValueError:
                raise ParseError(
                    f"{where}: non-numeric width, height or coordinate in {','.join(row)}"
                ) from None
            label = row[col["class"]].strip()
            if not label:
                raise ParseError(f"{where}: empty class name for {name}")
            record = by_name.get(name)
            if record is None:
                filepath = safe_join(self.images_dir, name, annotation=where)
                record = by_name[name] = Record(
                    record_id=-1, filepath=filepath, width=width, height=height
                )
            elif (record.width, record.height) != (width, height):
                raise ParseError(
                    f"{where}: {name} is {width}x{height} here but {record.width}x{record.height} "
                    "on an earlier row; one image has one size"
                )
            record.bboxes.append(box)
            record.labels.append(label)
        if self.list_images and self.images_dir.is_dir():
            listed = {r.filepath for r in by_name.values()}
            for image in list_image_files(self.images_dir):
                if image not in listed:  # no row: an image without objects (size from header)
                    by_name[image.name] = Record(record_id=-1, filepath=image, width=0, height=0)
        records = [by_name[name] for name in sorted(by_name)]
        for i, record in enumerate(records):
            record.record_id = i
        return records


# -- writing ---------------------------------------------------------------------------------
def write_csv(splits: Splits, out_dir: str | Path, class_map: ClassMap | None = None) -> Path:
    """Roboflow TensorFlow Object Detection CSV: ``<split>/_annotations.csv`` + the images.

    One row per box with the header `CSV_HEADER`, in pixels; an image without objects has
    no row (its file is still copied into the split folder).
    """
    named = as_splits(splits)
    class_map = resolve_class_map(named, class_map)
    out_dir = Path(out_dir)
    for split, records in named.items():
        split_dir = image_dir(out_dir, split, "csv")
        split_dir.mkdir(parents=True, exist_ok=True)
        taken: set[str] = set()
        buffer = io.StringIO()
        rows = csv.writer(buffer, lineterminator="\n")
        rows.writerow(CSV_HEADER)
        for record in records:
            file_name = place_image(record, split_dir, taken)
            for name, box in zip(box_names(record, class_map), record.bboxes):
                rows.writerow(
                    [file_name, int(record.width), int(record.height), name]
                    + [number_text(v) for v in box.xyxy]
                )
        atomic_write_text(split_dir / CSV_ANNOTATIONS_NAME, buffer.getvalue())
    return out_dir
