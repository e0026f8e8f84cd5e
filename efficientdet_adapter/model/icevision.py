"""IceVision 0.12's checkpoint files: what their ``meta`` says
([`icevision_fields`][efficientdet_adapter.model.icevision.icevision_fields]),
``save_icevision_checkpoint``, and the dict ``model_from_checkpoint`` returns
([`CheckpointAndModel`][efficientdet_adapter.model.icevision.CheckpointAndModel]).

Both loaders live in
[`efficientdet_adapter.checkpoints.checkpoint`][efficientdet_adapter.checkpoints.checkpoint], side by side:
``model_from_checkpoint`` always returns IceVision's dict, the library's own ``load_model``
returns ``(model, class_map, config)``.

An IceVision checkpoint (0.12, written by mmcv's ``save_checkpoint``) is one ``torch.save`` file::

    {"meta": {"model_name": "ross.efficientdet", "backbone_name": "tf_lite0", "img_size": 384,
              "classes": ["background", "milk_bottle", ...], ...},
     "state_dict": {"model.backbone.conv_stem.weight": ..., ...},   # the bench's weights
     "optimizer": {...}}                                              # optional

Both directions keep that layout, so files move between IceVision and this library, and it
loads with ``torch.load(weights_only=True)`` (plain data and tensors only).

Example:
    >>> save_icevision_checkpoint(model, "fridge.pth", model_name="ross.efficientdet",
    ...     backbone_name="tf_lite0", classes=class_map.get_classes(), img_size=384)  # doctest: +SKIP
    >>> loaded = model_from_checkpoint("fridge.pth")                                    # doctest: +SKIP
    >>> loaded["model"], loaded["class_map"], loaded["img_size"]                        # doctest: +SKIP
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, fields
from pathlib import Path
from types import ModuleType
from typing import Any

import torch
from torch import nn

from efficientdet_adapter.base.atomic import atomic_torch_save
from efficientdet_adapter.records.class_map import BACKGROUND, ClassMap
from efficientdet_adapter.model.backbones import BACKBONES
from efficientdet_adapter.model.config import MAX_IMG_SIZE
from efficientdet_adapter.records.record import normalize_img_size
from efficientdet_adapter.base.errors import ArgumentError, CheckpointError
from efficientdet_adapter.weights.state_dict import check_plain

__all__ = ["CLASSES", "COCO_CATEGORIES", "CheckpointAndModel", "IceVisionFields",
           "backbone_of", "coco_class_map", "icevision_fields", "img_size_field",
           "save_icevision_checkpoint"]

_logger = logging.getLogger(__name__)

#: IceVision 0.12's ``CLASSES`` (``icevision/models/checkpoint.py``): the 80 COCO names that
#: ``is_coco=True`` means, in COCO's order (an IceVision-trained COCO model predicts these).
CLASSES: tuple[str, ...] = (
    "person", "bicycle", "car", "motorcycle", "airplane", "bus", "train", "truck", "boat",
    "traffic light", "fire hydrant", "stop sign", "parking meter", "bench", "bird", "cat", "dog",
    "horse", "sheep", "cow", "elephant", "bear", "zebra", "giraffe", "backpack", "umbrella",
    "handbag", "tie", "suitcase", "frisbee", "skis", "snowboard", "sports ball", "kite",
    "baseball bat", "baseball glove", "skateboard", "surfboard", "tennis racket", "bottle",
    "wine glass", "cup", "fork", "knife", "spoon", "bowl", "banana", "apple", "sandwich",
    "orange", "broccoli", "carrot", "hot dog", "pizza", "donut", "cake", "chair", "couch",
    "potted plant", "bed", "dining table", "toilet", "tv", "laptop", "mouse", "remote",
    "keyboard", "cell phone", "microwave", "oven", "toaster", "sink", "refrigerator", "book",
    "clock", "vase", "scissors", "teddy bear", "hair drier", "toothbrush",
)

#: COCO's category names by category id (1-90). effdet's COCO-trained heads predict these 90 ids;
#: the ten ids COCO never used are named ``unused_<id>``.
COCO_CATEGORIES: tuple[str, ...] = (
    "person", "bicycle", "car", "motorcycle", "airplane", "bus", "train", "truck", "boat",
    "traffic light", "fire hydrant", "unused_12", "stop sign", "parking meter", "bench", "bird",
    "cat", "dog", "horse", "sheep", "cow", "elephant", "bear", "zebra", "giraffe", "unused_26",
    "backpack", "umbrella", "unused_29", "unused_30", "handbag", "tie", "suitcase", "frisbee",
    "skis", "snowboard", "sports ball", "kite", "baseball bat", "baseball glove", "skateboard",
    "surfboard", "tennis racket", "bottle", "unused_45", "wine glass", "cup", "fork", "knife",
    "spoon", "bowl", "banana", "apple", "sandwich", "orange", "broccoli", "carrot", "hot dog",
    "pizza", "donut", "cake", "chair", "couch", "potted plant", "bed", "unused_66",
    "dining table", "unused_68", "unused_69", "toilet", "unused_71", "tv", "laptop", "mouse",
    "remote", "keyboard", "cell phone", "microwave", "oven", "toaster", "sink", "refrigerator",
    "unused_83", "book", "clock", "vase", "scissors", "teddy bear", "hair drier", "toothbrush",
)


_ANCHORS_PER_LOCATION = 9  # effdet: 3 scales x 3 aspect ratios in every config


def coco_class_map() -> ClassMap:
    """The class map of effdet's COCO weights: label id = COCO category id (1-90)."""
    return ClassMap(list(COCO_CATEGORIES))


@dataclass(frozen=True)
class IceVisionFields:
    """What an IceVision call or file says about the model, validated: the class map, effdet's
    model name, IceVision's backbone name (a key of ``efficientdet.backbones.BACKBONES``) and
    the image size."""

    class_map: ClassMap
    model_name: str
    backbone_name: str
    img_size: int | tuple[int, int]


def _head_classes(state: Mapping[str, Any] | None) -> int | None:
    """Foreground classes the file's class head predicts (``None`` when it has none)."""
    for key, tensor in (state or {}).items():
        if key.endswith(("class_net.predict.conv_pw.weight", "class_net.predict.weight")):
            return int(tensor.shape[0]) // _ANCHORS_PER_LOCATION
    return None


def _classes(value: Any, where: str, field: str) -> ClassMap:
    if isinstance(value, (str, bytes)) or not isinstance(value, Sequence) or not value or any(
        not isinstance(c, str) or not c for c in value
    ):
        raise CheckpointError(
            f"{where}: {field} must be a non-empty list of class names (strings); got "
            f"{str(value)[:80]!r}; pass classes=[...]"
        )
    return ClassMap([c for c in value if c != BACKGROUND])  # IceVision: background goes to 0


def img_size_field(value: Any, where: str, field: str) -> int | tuple[int, int]:
    """``value`` checked as an image size (an int or two in ``1..MAX_IMG_SIZE``), or an error
    naming ``where``, ``field``, the value as written (``'128'`` is a string) and what is wrong.

    ``[n]`` (IceVision's square) and whole floats (``128.0``, JSON's numbers) are read as ints.
    """
    one = value[0] if isinstance(value, (list, tuple)) and len(value) == 1 else value
    one = _whole(one) if not isinstance(one, (list, tuple)) else [_whole(v) for v in one]
    try:  # the one size reader; this field's own message
        size = normalize_img_size(one, where=f"{where}: {field}", error=CheckpointError)
    except CheckpointError:
        raise CheckpointError(
            f"{where}: {field}={_shown(value)} is not an image size ({_why_not(one)}); expected "
            f"an int or [height, width], each in 1..{MAX_IMG_SIZE}; {_fix(field, 'img_size=...')}"
        ) from None
    return size.height if isinstance(one, int) else (size.height, size.width)


def _fix(field: str, keyword: str) -> str:
    """How to mend ``field``: the keyword in Python, and (a field of the file's meta) the file
    itself, which is all that the command line reads."""
    if not field.startswith("meta."):
        return f"pass {keyword}"
    return f"pass {keyword} in Python, or write a valid {field} into the file"


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _whole(value: Any) -> Any:
    """A float with no fraction as an int (128.0 -> 128); anything else unchanged."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _why_not(value: Any) -> str:
    if isinstance(value, bool):
        return "a bool"
    if isinstance(value, (list, tuple)):
        if len(value) != 2:
            extra = ", an image shape with channels?" if len(value) == 3 else ""
            return f"{len(value)} values{extra}"
        value = next((v for v in value if not isinstance(v, int) or isinstance(v, bool)
                      or not 1 <= v <= MAX_IMG_SIZE), value[0])
    if isinstance(value, str):
        return "a string, not a number"
    if not isinstance(value, int):
        return f"a {type(value).__name__}, not a whole number"
    if value < 1:
        return "not positive"
    if value > MAX_IMG_SIZE:
        return f"more than {MAX_IMG_SIZE}"
    return "of another form"


def icevision_fields(
    meta: Mapping[str, Any],
    where: str,
    *,
    model_name: str | None = None,
    backbone_name: str | None = None,
    classes: Sequence[str] | None = None,
    is_coco: bool = False,
    img_size: int | Sequence[int] | None = None,
    state: Mapping[str, Any] | None = None,
    logger: logging.Logger | None = None,
) -> IceVisionFields:
    """The model an IceVision call describes: the arguments, else the file's ``meta``.

    Every value is checked, since ``meta`` comes from a file: ``model_name`` must name
    EfficientDet (``"ross.efficientdet"``), ``backbone_name`` must be a key of
    ``efficientdet.backbones.BACKBONES`` (looked up in that table, never as an attribute),
    ``classes`` a list of strings, ``img_size`` an int or two in ``1..MAX_IMG_SIZE``.

    ``is_coco=True`` (without ``classes``) means IceVision's 80 `CLASSES`; a file whose
    class head predicts 90 classes is effdet's own COCO weights, whose labels are COCO's 90
    category ids (`COCO_CATEGORIES`).

    Raises:
        CheckpointError: one line naming ``where`` and the field at fault.
    """
    if is_coco and classes:
        (logger or _logger).warning("%s: is_coco=True is ignored because classes are passed (IceVision: "
                       "classes have priority)", where)
    if classes is not None:
        class_map = _classes(classes, where, "classes")
    elif is_coco:
        class_map = (coco_class_map() if _head_classes(state) == len(COCO_CATEGORIES)
                     else ClassMap(list(CLASSES)))
    elif meta.get("classes") is not None:
        class_map = _classes(meta["classes"], where, "meta.classes")
    else:
        raise CheckpointError(
            f"{where}: the file names no classes (no meta.classes); pass classes=[...] (the "
            "class names, background first or not) or is_coco=True for COCO weights"
        )
    field = "model_name" if model_name is not None else "meta.model_name"
    name = model_name if model_name is not None else meta.get("model_name", "ross.efficientdet")
    if not isinstance(name, str) or name.split(".")[-1] != "efficientdet":
        raise CheckpointError(
            f"{where}: {field}={str(name)[:60]!r}: this library rebuilds EfficientDet models "
            "only (model_name='ross.efficientdet')"
        )
    field = "backbone_name" if backbone_name is not None else "meta.backbone_name"
    backbone = backbone_name if backbone_name is not None else meta.get("backbone_name")
    if backbone is None:
        raise CheckpointError(
            f"{where}: the backbone is unknown (no meta.backbone_name); pass "
            "backbone_name='tf_lite0' (or the one the model was trained with)"
        )
    if not isinstance(backbone, str) or backbone not in BACKBONES:
        raise CheckpointError(
            f"{where}: {field}={str(backbone)[:60]!r} is not one of efficientdet.backbones "
            f"({', '.join(BACKBONES)})"
        )
    field = "img_size" if img_size is not None else "meta.img_size"
    size = img_size if img_size is not None else meta.get("img_size")
    if size is None:
        raise CheckpointError(f"{where}: the file has no meta.img_size; "
                              f"{_fix(field, 'img_size=...')}")
    return IceVisionFields(class_map, BACKBONES[backbone], backbone, img_size_field(size, where, field))


@dataclass(frozen=True)
class CheckpointAndModel(Mapping):
    """What [`model_from_checkpoint`][efficientdet_adapter.models.checkpoint.model_from_checkpoint]
    returns: IceVision's dict, typed.

    Read it as IceVision did (``loaded["model"]``, ``loaded["class_map"]``...) or as attributes.
    ``model_type`` is [`efficientdet`][efficientdet_adapter.efficientdet] (IceVision's
    ``models.ross.efficientdet``),
    ``backbone`` its backbone factory, ``checkpoint`` what the file held; ``model_name`` and
    ``backbone_name`` are IceVision's names (``"ross.efficientdet"``, ``"tf_lite0"``).
    """

    model: nn.Module
    model_type: ModuleType | None
    backbone: Any
    class_map: ClassMap
    img_size: int | tuple[int, int]
    checkpoint: Mapping[str, Any]
    model_name: str
    backbone_name: str

    def __getitem__(self, key: str) -> Any:
        if key not in self._keys():
            raise KeyError(key)
        return getattr(self, key)

    def __iter__(self) -> Iterator[str]:
        return iter(self._keys())

    def __len__(self) -> int:
        return len(self._keys())

    @classmethod
    def _keys(cls) -> tuple[str, ...]:
        return tuple(f.name for f in fields(cls))


def backbone_of(effdet_name: str, where: str) -> str:
    """IceVision's backbone name (``"tf_lite0"``) of an effdet model name."""
    for name, model_name in BACKBONES.items():
        if model_name == effdet_name:
            return name
    raise CheckpointError(f"{where}: no IceVision backbone name for {effdet_name!r}")


def _check_class_count(classes: Any, head: int | None, filename: str | Path) -> None:
    """Refuse class names that the model's class head does not predict (the file would not
    load back: the reader builds the head from the names)."""
    if classes is None or head is None:
        return
    if isinstance(classes, (str, bytes)) or not isinstance(classes, Sequence):
        raise ArgumentError(f"classes={classes!r}: pass a list of class names, e.g. "
                            "classes=class_map.get_classes()")
    names = [c for c in classes if c != BACKGROUND]
    if len(names) != head:
        raise ArgumentError(
            f"{filename}: classes={_shown(list(classes))} names {len(names)} classes (besides "
            f"background), but the model predicts {head}; the file would not load. Pass the "
            "model's class names, e.g. classes=class_map.get_classes(); nothing written")


def save_icevision_checkpoint(
    model: nn.Module,
    filename: str | Path,
    optimizer: torch.optim.Optimizer | None = None,
    meta: Mapping[str, Any] | None = None,
    model_name: str | None = None,
    backbone_name: str | None = None,
    classes: Sequence[str] | None = None,
    img_size: int | Sequence[int] | None = None,
) -> Path:
    """Write an IceVision checkpoint file (see the module docstring), readable by IceVision and
    by [`model_from_checkpoint`][efficientdet_adapter.models.checkpoint.model_from_checkpoint].

    ``meta`` must hold plain data only (strings, numbers, lists, dicts).

    Raises:
        ArgumentError: ``classes`` (or ``meta["classes"]``) names another number of classes than
            the model predicts.
    """
    if meta is not None and not isinstance(meta, Mapping):
        raise ArgumentError(f"meta must be a dict or None, got {type(meta).__name__}")
    info = dict(meta or {})
    check_plain(info, "meta")
    for key, value in (("classes", None if classes is None else [str(c) for c in classes]),
                       ("model_name", model_name), ("backbone_name", backbone_name),
                       ("img_size", img_size)):
        if value is not None:
            info[key] = value
    info.setdefault("time", time.asctime())
    state = {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}
    _check_class_count(info.get("classes"), _head_classes(state), filename)
    data: dict[str, Any] = {"meta": info, "state_dict": state}
    if optimizer is not None:
        data["optimizer"] = optimizer.state_dict()
    return atomic_torch_save(data, filename)
