"""IceVision's helper names, as thin calls into this library.

These exist so that IceVision code runs with only its imports changed; new code can use them
too. Each one says what it calls. The pictures with IceVision's arguments (``show_record``,
``draw_record``...) live in [`visualize`][efficientdet_adapter.pictures.draw], IceVision's checkpoint
contract in
[`checkpoint`][efficientdet_adapter.checkpoint].

Example:
    >>> from efficientdet_adapter.compat import ObjectDetectionRecord, get_image_files
    >>> record = ObjectDetectionRecord()
    >>> record.set_img_size(ImgSize(width=64, height=48)); record.width
    64
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from efficientdet_adapter.records.images import IMAGENET_MEAN, IMAGENET_STD, list_image_files
from efficientdet_adapter.parsers.voc import voc
from efficientdet_adapter.records.record import ImgSize, Record
from efficientdet_adapter.base.errors import PathNotFoundError

__all__ = [
    "IDMap",
    "ObjectDetectionRecord",
    "denormalize_imagenet",
    "get_image_files",
    "get_img_size",
    "normalize_imagenet",
    "voc",
]



def ObjectDetectionRecord() -> Record:  # noqa: N802 - IceVision's name for a record factory
    """An empty detection record, as IceVision's ``ObjectDetectionRecord()`` made one.

    IceVision's custom parsers pass it as ``template_record``;
    [`Parser`][efficientdet_adapter.parsers.base.Parser] then
    builds one [`Record`][efficientdet_adapter.records.record.Record] per ``record_id`` (records hold
    boxes, labels and the image
    size, which is all an object-detection template declares).
    """
    return Record(record_id=None, filepath=None, width=0, height=0)


def get_image_files(
    path: str | os.PathLike, recurse: bool = True, folders: Sequence[str] | None = None
) -> list[Path]:
    """Image files under ``path`` (recursively by default), sorted; fastai's/IceVision's helper.

    Files are listed by [`list_image_files`][efficientdet_adapter.records.images.list_image_files] (suffix
    in any
    case; names starting with ``.`` skipped; symlinked folders not followed).

    Args:
        path: the folder to list.
        recurse: look into sub-folders too.
        folders: only these sub-folders (names relative to ``path``); those missing are skipped.

    Raises:
        FileNotFoundError: ``path`` is not a folder (named in the message).
    """
    root = Path(path)
    if not root.is_dir():
        raise PathNotFoundError(f"{root}: not a folder; pass the folder that holds the images")
    roots = [root / f for f in folders] if folders else [root]
    found = [file for base in roots if base.is_dir()
             for file in list_image_files(base, recurse=recurse)]
    return sorted(found)


def get_img_size(filepath: str | os.PathLike) -> ImgSize:
    """The size an image has once loaded (EXIF orientation applied), from its header only."""
    from efficientdet_adapter.records.images import oriented_size  # noqa: PLC0415

    width, height = oriented_size(filepath)
    return ImgSize(width=width, height=height)


def denormalize_imagenet(img: Any) -> np.ndarray:
    """An ImageNet-normalized HxWx3 float image back to uint8 RGB (IceVision's helper).

    Example:
        >>> denormalize_imagenet(np.zeros((2, 2, 3), np.float32))[0, 0].tolist()
        [124, 116, 104]
    """
    arr = np.asarray(img, dtype=np.float32)
    if arr.ndim == 3 and arr.shape[0] == 3 and arr.shape[-1] != 3:
        arr = arr.transpose(1, 2, 0)  # a CHW tensor
    out = (arr * np.asarray(IMAGENET_STD, np.float32) + np.asarray(IMAGENET_MEAN, np.float32)) * 255
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


def normalize_imagenet(img: Any) -> np.ndarray:
    """A uint8 (0-255) or float (0-1) HxWx3 image normalized with the ImageNet mean and std."""
    arr = np.asarray(img, dtype=np.float32)
    if np.asarray(img).dtype == np.uint8:
        arr = arr / 255.0
    return (arr - np.asarray(IMAGENET_MEAN, np.float32)) / np.asarray(IMAGENET_STD, np.float32)


class IDMap:
    """Names -> consecutive integer ids, as IceVision's ``IDMap`` (used by older custom parsers).

    Example:
        >>> ids = IDMap(); ids["a.jpg"], ids["b.jpg"], ids["a.jpg"]
        (0, 1, 0)
    """

    def __init__(self, initial_names: Sequence[Any] | None = None):
        self._name2id: dict[Any, int] = {}
        self._id2name: dict[int, Any] = {}
        for name in initial_names or []:
            self[name]

    def __getitem__(self, name: Any) -> int:
        if name not in self._name2id:
            new = max(self._id2name, default=-1) + 1
            self._name2id[name] = new
            self._id2name[new] = name
        return self._name2id[name]

    def get_id(self, id: int) -> Any:
        return self._id2name[id]

    def get_name(self, name: Any) -> int:
        """The id of ``name``; a new name gets the next id (as IceVision's)."""
        return self[name]

    def get_ids(self) -> list[int]:
        """Every id, in order."""
        return list(self._name2id.values())

    def get_names(self) -> list[Any]:
        """Every name, in id order."""
        return list(self._name2id)

    def filter_ids(self, ids: Iterable[int]) -> "IDMap":
        """A map of only ``ids``, each keeping its id and name."""
        out = IDMap()
        by_id = {i: n for n, i in self._name2id.items()}
        for i in ids:
            out._name2id[by_id[i]] = i
            out._id2name[i] = by_id[i]
        return out

    def __len__(self) -> int:
        return len(self._id2name)
