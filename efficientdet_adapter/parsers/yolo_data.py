"""Ultralytics' dataset file (``data.yaml``) -> records of its splits.

``--data data.yaml`` is how Ultralytics users name a dataset: ``path`` (the dataset root),
``train``, ``val`` and optionally ``test`` (each an images folder, relative to ``path``), and
``names`` (a list, or a dict ``{index: name}``). Labels are found as Ultralytics finds them: the
last ``images`` folder of an images path replaced by ``labels`` (``train/images`` ->
``train/labels``), or beside the images when the path has no ``images`` folder.

Relative paths are resolved against ``path``, and ``path`` (when relative, or absent) against
the yaml's folder. Roboflow writes ``../train/images`` into the ``data.yaml`` at its export's
root: a listed ``../X`` that does not exist is read as ``X`` when that exists, silently
(Ultralytics' rule). Exports also carry the paths of the machine that wrote them
(``/mnt/data/train/images``): when a listed folder does not exist, the same path's tail is looked
for under the yaml's folder (``train/images``), and one warning says so. The records come from
[`YOLOBBoxParser`][efficientdet_adapter.parsers.yolo.YOLOBBoxParser], one per split, gathered
by [`RoboflowParser`][efficientdet_adapter.parsers.roboflow.RoboflowParser]'s merge (one class map,
ids 0..N-1, train first).

Example:
    >>> parser = YOLODataParser("pothole/data.yaml")  # doctest: +SKIP
    >>> parser.parse_splits()["valid"][0].labels  # doctest: +SKIP
    ['pothole']
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from efficientdet_adapter.records.class_map import ClassMap
from efficientdet_adapter.base.errors import ParseError
from efficientdet_adapter.parsers.base import Parser
from efficientdet_adapter.parsers.roboflow import RoboflowParser
from efficientdet_adapter.parsers.yolo import YOLOBBoxParser, read_yolo_yaml, yolo_data_names

__all__ = ["YOLODataParser", "dataset_parser", "is_yolo_data_file", "yolo_data_splits"]

logger = logging.getLogger(__name__)

#: data.yaml's split keys -> this library's split names (in the order records are numbered).
SPLIT_KEYS = (("train", "train"), ("val", "valid"), ("test", "test"))


def is_yolo_data_file(path: str | os.PathLike) -> bool:
    """Whether ``path`` is a ``.yaml``/``.yml`` file (read as Ultralytics' dataset file)."""
    path = Path(path)
    return path.is_file() and path.suffix.lower() in (".yaml", ".yml")


def _labels_dir(images: Path) -> Path:
    """Ultralytics' rule: the last ``images`` folder of the path becomes ``labels``."""
    parts = list(images.parts)
    for i in range(len(parts) - 1, -1, -1):
        if parts[i] == "images":
            parts[i] = "labels"
            return Path(*parts)
    return images


def _beside(yaml_dir: Path, listed: str) -> Path | None:
    """The longest tail of ``listed`` that is a folder under ``yaml_dir``, or None. A tail keeps
    two folders at least (``train/images``): a bare ``images`` could be any split's."""
    parts = [p for p in Path(listed).parts if p not in ("..", ".", "/", Path(listed).anchor)]
    for i in range(max(1, len(parts) - 1)):
        candidate = yaml_dir.joinpath(*parts[i:])
        if candidate.is_dir():
            return candidate
    return None


def yolo_data_splits(path: str | os.PathLike, data: dict
                     ) -> tuple[dict[str, tuple[Path, Path]], list[str]]:
    """``({split: (images folder, labels folder)}, notes)`` of a parsed ``data.yaml``.

    ``notes`` lists the folders found under the yaml's folder instead of where the file says.

    Raises:
        ParseError: no ``train`` entry, a split given as a list of several folders or a ``.txt``
            list of images, or a folder found neither where it is listed nor under the yaml's
            folder.
    """
    path = Path(path)
    yaml_dir = path.parent
    root_value = data.get("path")
    # absolute stays absolute; "cfg/../coco8" reads as "coco8"
    root = yaml_dir if not root_value else Path(os.path.normpath(yaml_dir / str(root_value)))
    splits: dict[str, tuple[Path, Path]] = {}
    notes: list[str] = []
    if not data.get("train"):
        raise ParseError(f"{path}: no 'train' entry; a YOLO data.yaml names its training images "
                         "folder there (train: train/images)")
    for key, split in SPLIT_KEYS:
        value = data.get(key)
        if not value:
            continue
        if isinstance(value, list):
            if len(value) != 1:
                raise ParseError(f"{path}: {key} lists {len(value)} folders; one folder per split "
                                 "is read: merge them, or list one")
            value = value[0]
        listed = str(value)
        if listed.lower().endswith(".txt"):
            raise ParseError(f"{path}: {key}: {listed} is a list of image files; give the images "
                             "folder instead (e.g. train/images)")
        images = Path(os.path.normpath(root / listed))
        if not images.is_dir() and listed.startswith("../") and (root / listed[3:]).is_dir():
            images = Path(os.path.normpath(root / listed[3:]))  # Roboflow's ../train/images
        if not images.is_dir():
            found = _beside(yaml_dir, listed)
            if found is None:
                raise ParseError(f"{path}: {key}: {images} is not a folder, nor is any tail of "
                                 f"{listed} under {yaml_dir}; fix the path in the file")
            notes.append(f"{key} {listed} -> {found.relative_to(yaml_dir)}")
            images = found
        splits[split] = (images, _labels_dir(images))
    return splits, notes


class YOLODataParser(RoboflowParser):
    """An Ultralytics ``data.yaml`` and the splits it lists (see the module docstring).

    The splits are merged as
    [`RoboflowParser`][efficientdet_adapter.parsers.roboflow.RoboflowParser] merges an export's (its
    attributes too:
    ``split_names``, ``split_ids``, ``source_ids``, ``format == "yolo"``); only where the
    splits are and the class names differ, and they come from the yaml.

    Args:
        path: the ``data.yaml`` file.
        class_map, check_images, show_pbar: see
            [`Parser`][efficientdet_adapter.parsers.base.Parser].
    """

    def __init__(self, path: str | os.PathLike, *, class_map: ClassMap | None = None,
                 check_images: bool = False, show_pbar: bool | None = None):
        # RoboflowParser's __init__ finds an export's split folders; a data.yaml names them
        Parser.__init__(self, class_map, check_images=check_images, show_pbar=show_pbar)
        path = Path(path)
        data = read_yolo_yaml(path)
        self.yaml_path = path
        self.names = yolo_data_names(data, path)
        self.split_dirs, notes = yolo_data_splits(path, dict(data))
        if notes:
            logger.warning("%s: the folders it lists do not exist here; read beside it instead: %s",
                           path, "; ".join(notes))
        self.notes = notes
        self.format = "yolo"
        self.split_folders = {s: images for s, (images, _) in self.split_dirs.items()}
        self.root = path.parent
        self.split_names = list(self.split_dirs)
        self.split_ids: dict[str, list[int]] = {}
        self.category_ids: dict[int, int] = {}
        self.source_ids = {}

    def _split_parser(self, split: str) -> Parser:
        images, labels = self.split_dirs[split]
        return YOLOBBoxParser(images, labels, self.names, show_pbar=self.show_pbar)

    def _yolo_names(self) -> list[str]:
        return self.names


def dataset_parser(path: str | os.PathLike, format: str = "auto", *,
                   check_images: bool = False) -> RoboflowParser:
    """The parser of what ``--data`` names: a ``data.yaml`` (`YOLODataParser`), else an
    export folder or ``.zip``
    ([`RoboflowParser`][efficientdet_adapter.parsers.roboflow.RoboflowParser]).

    Raises:
        ParseError: a ``data.yaml`` with a ``format`` other than ``auto`` or ``yolo``.
    """
    if is_yolo_data_file(path):
        if format not in ("auto", "yolo"):
            raise ParseError(f"{path}: a YOLO data.yaml, but format={format!r} was asked for; "
                             "leave the format at auto (or yolo)")
        return YOLODataParser(path, check_images=check_images)
    return RoboflowParser(path, format=format, check_images=check_images)
