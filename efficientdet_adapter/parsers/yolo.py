"""YOLO txt labels (Ultralytics / Roboflow YOLO v5 and v8 layouts) -> records, and records or
predictions -> YOLO files ([`write_yolo`][efficientdet_adapter.parsers.yolo.write_yolo],
[`write_yolo_predictions`][efficientdet_adapter.parsers.yolo.write_yolo_predictions]).

One ``<image stem>.txt`` per image in a ``labels`` folder, one object per line:
``class cx cy w h`` with the centre and size normalized to 0..1. A line with more numbers is a
segmentation polygon ``class x1 y1 x2 y2 ...``; its box is the polygon's extent. An empty or
missing label file is an image without objects (a negative sample). Image sizes come from the
image headers (no pixel decoding), with the EXIF rotation applied as the loader applies it.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

from efficientdet_adapter.base.arguments import path_arg
from efficientdet_adapter.base.atomic import atomic_write_text
from efficientdet_adapter.records.bbox import BBox
from efficientdet_adapter.records.class_map import ClassMap, background_for
from efficientdet_adapter.base.errors import ArgumentError, ParseError
from efficientdet_adapter.records.predictions import Prediction
from efficientdet_adapter.records.record import Record
from efficientdet_adapter.parsers._files import displayed_size, list_images
from efficientdet_adapter.parsers.base import Parser, progress
from efficientdet_adapter.parsers.formats import (
    YOLO_DATA_FILES,
    Splits,
    as_splits,
    box_names,
    foreground_index,
    image_dir,
    kept_detections,
    number_text,
    place_image,
    prediction_stem,
    resolve_class_map,
)

__all__ = ["YOLOBBoxParser", "read_yolo_names", "read_yolo_yaml", "yolo_data_names",
           "ORPHAN_LABEL", "write_yolo",
           "write_yolo_predictions"]

logger = logging.getLogger(__name__)

ORPHAN_LABEL = "label file ignored: no image with its name"

NamesSource = Sequence[str] | Mapping[int, str] | str | os.PathLike

MAX_YAML_BYTES = 1 << 20  # a data.yaml lists paths and class names: kilobytes, never megabytes


def _names_from_value(names: object, where: str) -> list[str]:
    """A ``names`` value (a list, or a dict ``{index: name}``) as a list in index order."""
    if isinstance(names, Mapping):
        try:
            keys = [int(k) for k in names]
        except (TypeError, ValueError):
            raise ParseError(
                f"{where}: 'names' keys must be class indices 0..N-1, got {list(names)}"
            ) from None
        by_index = {k: _name(v, where) for k, v in zip(keys, names.values())}
        if sorted(by_index) != list(range(len(by_index))):
            raise ParseError(
                f"{where}: 'names' keys must be the class indices 0..{len(by_index) - 1} without "
                f"gaps, got {sorted(by_index)}"
            )
        return [by_index[i] for i in range(len(by_index))]
    if isinstance(names, (list, tuple)):
        return [_name(n, where) for n in names]
    raise ParseError(f"{where}: 'names' must be a list or a dict of class names, got {names!r}")


def _name(value: object, where: str) -> str:
    """One class name of a ``names`` list or dict: a string (or a number, as YAML reads ``1``)."""
    if isinstance(value, (str, int, float)) and not isinstance(value, bool):
        return str(value)
    raise ParseError(f"{where}: 'names' must hold class names (strings), got {value!r}")


def _safe_yaml(text: str, path: Path) -> object:
    """``yaml.safe_load`` without aliases: a data.yaml never needs them, and nested aliases
    (a "billion laughs") expand exponentially in anything that walks the result."""
    import yaml  # noqa: PLC0415

    class NoAliasLoader(yaml.SafeLoader):
        def compose_node(self, parent, index):
            if self.check_event(yaml.AliasEvent):
                event = self.peek_event()
                raise ParseError(
                    f"{path}: YAML alias *{event.anchor} at line {event.start_mark.line + 1}; "
                    "aliases are not read (nested ones can expand without end, a 'billion "
                    "laughs'): write the values out"
                )
            return super().compose_node(parent, index)

    try:
        return yaml.load(text, Loader=NoAliasLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as e:
        raise ParseError(f"{path}: malformed YAML ({e})") from None


def read_yolo_names(path: str | os.PathLike) -> list[str]:
    """Class names in index order from a ``data.yaml`` (``names`` list or dict) or a names file.

    A names file (``.names``, ``.txt``, ...) holds one name per line; blank lines are skipped.

    Raises:
        ParseError: unreadable YAML, no ``names``, keys with gaps, or ``nc`` disagreeing with
            the number of names.

    Example:
        >>> read_yolo_names("export/data.yaml")  # doctest: +SKIP
        ['circle', 'square', 'star', 'triangle']
    """
    path = Path(path)
    text = _read_small_text(path)
    if path.suffix.lower() not in (".yaml", ".yml"):
        return [line.strip() for line in text.splitlines() if line.strip()]
    return yolo_data_names(read_yolo_yaml(path, text), path)


def read_yolo_yaml(path: str | os.PathLike, text: str | None = None) -> Mapping:
    """The mapping of a YOLO ``data.yaml`` (read safely: size-limited, no YAML aliases).

    Raises:
        ParseError: unreadable, not YAML, or not a mapping.
    """
    path = Path(path)
    data = _safe_yaml(_read_small_text(path) if text is None else text, path)
    if not isinstance(data, Mapping):
        raise ParseError(f"{path}: not a YOLO data.yaml (a mapping with 'names', 'train', "
                         "'val'...)")
    return data


def yolo_data_names(data: Mapping, path: str | os.PathLike) -> list[str]:
    """The class names of a parsed ``data.yaml`` (``names`` list or dict), checked against
    ``nc``; ``path`` names the file in errors."""
    if "names" not in data:
        raise ParseError(f"{path}: no 'names' entry; a YOLO data.yaml lists its class names there")
    names = _names_from_value(data["names"], str(path))
    nc = data.get("nc")
    if nc is not None and nc != len(names):
        raise ParseError(f"{path}: nc is {nc} but 'names' lists {len(names)} classes: {names}")
    return names


def _read_small_text(path: Path) -> str:
    try:
        if path.stat().st_size > MAX_YAML_BYTES:
            raise ParseError(f"{path}: {path.stat().st_size} bytes; a class names file is far "
                             f"smaller (limit {MAX_YAML_BYTES}): is this the right file?")
        return path.read_text(encoding="utf-8-sig")  # a byte-order mark is not part of a name
    except OSError as e:
        raise ParseError(f"{path}: cannot read the class names file ({e.strerror})") from None
    except UnicodeDecodeError as e:
        raise ParseError(f"{path}: not UTF-8 text ({e}); save it as UTF-8") from None


def _find_data_yaml(images_dir: Path) -> Path | None:
    for folder in (images_dir, images_dir.parent, images_dir.parent.parent):
        for name in YOLO_DATA_FILES:
            if (folder / name).is_file():
                return folder / name
    return None


def _parse_line(line: str, where: str, n_classes: int) -> tuple[int, list[float]]:
    """``(class index, numbers)`` of one label line, checked."""
    parts = line.split()
    try:
        values = [float(p) for p in parts]
    except ValueError:
        raise ParseError(
            f"{where}: non-numeric value in {line.strip()!r}; expected 'class cx cy w h'"
        ) from None
    cls, coords = values[0], values[1:]
    if not cls.is_integer() or not 0 <= cls < n_classes:
        raise ParseError(
            f"{where}: class index {parts[0]} is not one of the {n_classes} classes (0.."
            f"{n_classes - 1}); check the label file or the class names"
        )
    if len(coords) != 4 and (len(coords) < 6 or len(coords) % 2):
        raise ParseError(
            f"{where}: {len(coords)} numbers after the class index; expected 4 (cx cy w h) or "
            "an even number of at least 6 (polygon x1 y1 x2 y2 ...)"
        )
    return int(cls), coords


class YOLOBBoxParser(Parser):
    """Parse YOLO txt labels (``class cx cy w h``, normalized) into records.

    Records come in image file-name order with ids 0..N-1; every image in ``images_dir`` becomes
    a record (those without a label file, or with an empty one, are negatives). Without a
    ``class_map``, the map follows the class names' index order (never re-sorted).

    Args:
        images_dir: folder of the images (``<split>/images``).
        labels_dir: folder of the ``.txt`` files; default ``images_dir/../labels``.
        class_names: the class names: a list in index order, a dict ``{index: name}``, or the
            path of a ``data.yaml`` or a names file. Default: a ``data.yaml`` found in
            ``images_dir`` or up to two folders above it, else the ``class_map``'s foreground.
        class_map: use this class map (its foreground names are the classes by index when no
            ``class_names`` are given).
        check_images, show_pbar: see [`Parser`][efficientdet_adapter.parsers.base.Parser].

    Example:
        >>> parser = YOLOBBoxParser("export/train/images", class_names="export/data.yaml")
        >>> train, valid = parser.parse()  # doctest: +SKIP
    """

    def __init__(
        self,
        images_dir: str | os.PathLike,
        labels_dir: str | os.PathLike | None = None,
        class_names: NamesSource | None = None,
        *,
        class_map: ClassMap | None = None,
        check_images: bool = False,
        show_pbar: bool | None = None,
    ):
        super().__init__(class_map, check_images=check_images, show_pbar=show_pbar)
        self.images_dir = path_arg(images_dir, "images_dir")
        self.labels_dir = path_arg(labels_dir, "labels_dir") if labels_dir is not None else (
            self.images_dir.parent / "labels"
        )
        self.class_names = self._resolve_names(class_names, class_map)

    def _resolve_names(self, source: NamesSource | None, class_map: ClassMap | None) -> list[str]:
        if source is None and class_map is not None:
            return class_map.foreground
        if source is None:
            source = _find_data_yaml(self.images_dir)
            if source is None:
                raise ParseError(
                    f"{self.images_dir}: no class names given and no data.yaml found beside it; "
                    "pass class_names=[...] or class_names='path/to/data.yaml'"
                )
        if isinstance(source, (str, os.PathLike)):
            return read_yolo_names(source)
        return _names_from_value(source, "class_names")

    def __len__(self) -> int:
        return len(list_images(self.images_dir))

    def parse_records(self) -> list[Record]:
        """One record per image file, boxes from its label file (see the class docstring)."""
        if self._class_map is None:
            self._class_map = ClassMap(self.class_names,
                                       background=background_for(self.class_names))
        if not self.labels_dir.is_dir():
            raise ParseError(
                f"labels folder {self.labels_dir} not found (for the images in {self.images_dir});"
                " pass labels_dir=..."
            )
        images = list_images(self.images_dir)
        label_names = {n for n in os.listdir(self.labels_dir) if n.endswith(".txt")}
        names, n_classes = self.class_names, len(self.class_names)
        records = []
        for i, path in enumerate(
            progress(images, total=len(images), desc="YOLO", show=self.show_pbar)
        ):
            width, height = displayed_size(path)
            record = Record(record_id=i, filepath=path, width=width, height=height)
            label_name = path.stem + ".txt"
            if label_name in label_names:
                label_names.discard(label_name)
                label_path = self.labels_dir / label_name
                self._read_labels(label_path, record, names, n_classes)
            records.append(record)
        for orphan in sorted(label_names):
            self.report.add(ORPHAN_LABEL, str(self.labels_dir / orphan))
        return records

    @staticmethod
    def _read_labels(path: Path, record: Record, names: list[str], n_classes: int) -> None:
        try:
            # utf-8-sig: Windows editors start files with a byte-order mark, which is no number
            text = path.read_text(encoding="utf-8-sig")
        except (OSError, UnicodeDecodeError) as e:
            raise ParseError(f"{path}: cannot read the label file ({e})") from None
        w, h = record.width, record.height
        for line_no, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            cls, coords = _parse_line(line, f"{path}, line {line_no}", n_classes)
            if len(coords) == 4:
                box = BBox.from_relative_xcycwh(*coords, w, h)
            else:
                xs, ys = coords[0::2], coords[1::2]
                box = BBox.from_xyxy(min(xs) * w, min(ys) * h, max(xs) * w, max(ys) * h)
            record.bboxes.append(box)
            record.labels.append(names[cls])


# -- writing ---------------------------------------------------------------------------------
def write_yolo(splits: Splits, out_dir: str | Path, class_map: ClassMap | None = None) -> Path:
    """Roboflow YOLO (v5/v8): ``data.yaml`` + ``<split>/images`` and ``<split>/labels``.

    ``data.yaml`` lists ``names`` in class-map order and points at ``../<split>/images`` (the
    ``valid`` split under the key ``val``), as Roboflow writes it.
    """
    import yaml  # noqa: PLC0415

    named = as_splits(splits)
    class_map = resolve_class_map(named, class_map)
    index = foreground_index(class_map)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    for split, records in named.items():
        images = image_dir(out_dir, split, "yolo")
        labels = images.parent / "labels"
        images.mkdir(parents=True, exist_ok=True)
        labels.mkdir(parents=True, exist_ok=True)
        taken: set[str] = set()
        for record in records:
            file_name = place_image(record, images, taken)
            rows = []
            for name, box in zip(box_names(record, class_map), record.bboxes):
                rel = box.relative_xcycwh(record.width, record.height)
                rows.append(" ".join([str(index[name]), *(number_text(v) for v in rel)]) + "\n")
            atomic_write_text(labels / f"{Path(file_name).stem}.txt", "".join(rows))
    data: dict[str, object] = {}
    for split in named:
        key = {"valid": "val"}.get(split, split)
        data[key] = f"../{split}/images"
    data["nc"] = len(index)
    data["names"] = list(index)
    text = yaml.safe_dump(data, sort_keys=False, default_flow_style=None, allow_unicode=True)
    atomic_write_text(out_dir / YOLO_DATA_FILES[0], text)
    return out_dir


def write_yolo_predictions(
    predictions: Sequence[Prediction], out_dir: str | Path, *, min_score: float | None = None,
    conf: bool = True, stems: Sequence[str] | None = None,
) -> list[Path]:
    """One YOLO txt per image: ``class cx cy w h score`` lines (normalized, as Ultralytics'
    ``save_conf``; ``conf=False`` leaves the score out).

    The class index is 0-based over the foreground classes (label id - 1 when the class map has
    a background). Each prediction needs its image ``width`` and ``height``. ``stems``: the
    file names (without ``.txt``), one per prediction; by default each image's stem.
    """
    if stems is not None and len(stems) != len(predictions):
        raise ArgumentError(f"stems: {len(stems)} names for {len(predictions)} predictions")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for i, pred in enumerate(predictions):
        if not pred.width or not pred.height:
            raise ArgumentError(
                f"prediction {i} ({pred.filepath or pred.record_id}) has no image width/height; "
                "YOLO coordinates are relative to the image size"
            )
        has_background = pred.class_map is None or pred.class_map.background is not None
        shift = 1 if has_background else 0
        boxes, scores, label_ids = kept_detections(pred, min_score)
        rows = []
        for (x0, y0, x1, y1), score, label_id in zip(boxes, scores, label_ids):
            w, h = pred.width, pred.height
            rel = ((x0 + x1) / 2 / w, (y0 + y1) / 2 / h, (x1 - x0) / w, (y1 - y0) / h)
            fields = [str(label_id - shift), *(number_text(v) for v in rel)]
            rows.append(" ".join(fields + ([number_text(score)] if conf else [])))
        stem = stems[i] if stems is not None else prediction_stem(pred, i)
        path = out_dir / f"{stem}.txt"
        atomic_write_text(path, "".join(r + "\n" for r in rows))
        written.append(path)
    return written
