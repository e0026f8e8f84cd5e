"""IceVision's checkpoint contract: ``save_icevision_checkpoint`` and the dict that
``model_from_checkpoint`` returns when called IceVision's way.

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

import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import torch
from torch import nn

from .class_map import BACKGROUND, ClassMap
from .errors import CheckpointError

__all__ = ["COCO_CATEGORIES", "coco_class_map", "icevision_model_from_checkpoint",
           "save_icevision_checkpoint"]

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


def coco_class_map() -> ClassMap:
    """The class map of effdet's COCO weights: label id = COCO category id (1-90)."""
    return ClassMap(list(COCO_CATEGORIES))


def _class_map_from_classes(classes: Sequence[str]) -> ClassMap:
    """IceVision's ``ClassMap(classes)``: a ``background`` in the list moves to id 0."""
    names = [str(c) for c in classes]
    return ClassMap([n for n in names if n != BACKGROUND])


def _effdet_name(model_name: str | None, backbone_name: str | None, where: str) -> str:
    """IceVision's ``"ross.efficientdet"`` + ``"tf_lite0"`` -> effdet's model name."""
    from .efficientdet import backbones

    if model_name is not None:
        parts = model_name.split(".")
        if parts[-1] != "efficientdet":
            raise CheckpointError(
                f"{where}: model_name={model_name!r}: this library rebuilds EfficientDet models "
                "only (model_name='ross.efficientdet')"
            )
    if backbone_name is None:
        raise CheckpointError(
            f"{where}: the backbone is unknown; pass backbone_name='tf_lite0' (or the one the "
            "model was trained with)"
        )
    factory = getattr(backbones, backbone_name, None)
    if factory is None or not callable(factory):
        raise CheckpointError(
            f"{where}: backbone_name={backbone_name!r} is not one of efficientdet.backbones "
            f"({', '.join(backbones.BACKBONES)})"
        )
    return factory().model_name


def _read(filename: str | Path, **download: Any) -> tuple[Any, str]:
    """The checkpoint's contents (weights_only) and where they came from; a URL is fetched by
    :func:`~efficientdet_adapter.downloads.fetch` (``download``: its ``check_hash``,
    ``hash_prefix``, ``max_bytes``)."""
    from .downloads import fetch, is_url
    from .efficientdet.checkpoint import _safe_load

    text = str(filename)
    if is_url(filename):
        from effdet.config.model_config import efficientdet_model_param_dict

        if text in {c.get("url") for c in efficientdet_model_param_dict.values()}:
            from .efficientdet.weights import cached_download  # effdet's own COCO weights: its

            return _safe_load(cached_download(text)), text     # cache, its unique file names
        return _safe_load(fetch(text, **download)), text
    return _safe_load(Path(filename)), text


def icevision_model_from_checkpoint(
    filename: str | Path,
    model_name: str | None = None,
    backbone_name: str | None = None,
    classes: Sequence[str] | None = None,
    is_coco: bool = False,
    img_size: int | Sequence[int] | None = None,
    eval_mode: bool = True,
    device: str | torch.device = "cpu",
    check_hash: bool = False,
    hash_prefix: str | None = None,
) -> dict[str, Any]:
    """IceVision's ``model_from_checkpoint``: ``{"model", "model_type", "backbone",
    "class_map", "img_size", "checkpoint"}``.

    Reads IceVision checkpoint files (``meta`` supplies what is not passed), files written by
    :func:`~efficientdet_adapter.checkpoint.save_checkpoint`, effdet's COCO weight files
    (``is_coco=True``) and bare state dicts; ``filename`` may be a URL (``http(s)://``, cached
    by :func:`~efficientdet_adapter.downloads.fetch`, checked against ``hash_prefix`` or, with
    ``check_hash``, the hash in its file name; or ``file://``).
    """
    from . import efficientdet
    from .efficientdet.checkpoint import _load_weights, load_checkpoint_data
    from .efficientdet.wrappers import find_network

    from .downloads import fetch, is_url

    download = {"check_hash": check_hash, "hash_prefix": hash_prefix}
    data, where = _read(filename, **download)
    meta: Mapping[str, Any] = {}
    if isinstance(data, Mapping) and isinstance(data.get("meta"), Mapping):
        meta = data["meta"]
        state = data.get("state_dict")
    elif isinstance(data, Mapping) and "state_dict" in data:
        state = data["state_dict"]
    else:
        state = data
    ours = isinstance(data, Mapping) and data.get("format") is not None
    if ours:  # a save_checkpoint file: its own metadata
        loaded = load_checkpoint_data(fetch(str(filename), **download) if is_url(filename)
                                      else Path(filename))
        class_map = ClassMap.from_dict(loaded["class_map"])
        name = loaded["model_name"]
        size = img_size if img_size is not None else loaded["img_size"]
        backbone_name = backbone_name or _backbone_of(name)
    else:
        if classes is None and not is_coco:
            classes = meta.get("classes")
        if classes is not None:
            class_map = _class_map_from_classes(classes)
        elif is_coco:
            class_map = coco_class_map()
        else:
            raise CheckpointError(
                f"{where}: the file names no classes; pass classes=[...] (the class names, "
                "background first or not) or is_coco=True for COCO weights"
            )
        backbone_name = backbone_name or meta.get("backbone_name")
        name = _effdet_name(model_name or meta.get("model_name"), backbone_name, where)
        size = img_size if img_size is not None else meta.get("img_size")
        if size is None:
            raise CheckpointError(f"{where}: the file has no img_size; pass img_size=...")
    if not isinstance(state, Mapping) or not state:
        raise CheckpointError(f"{where}: no weights found (expected a 'state_dict')")
    model = efficientdet.model(model_name=name, num_classes=len(class_map), img_size=size,
                               pretrained_backbone=False)
    _load_weights(find_network(model), state, Path(where))
    model.to(device)
    if eval_mode:
        model.eval()
    return {
        "model": model,
        "model_type": efficientdet,
        "backbone": getattr(efficientdet.backbones, backbone_name),
        "class_map": class_map,
        "img_size": size,
        "checkpoint": {"meta": dict(meta)},
    }


def _backbone_of(effdet_name: str) -> str:
    from .efficientdet import backbones

    for name in backbones.BACKBONES:
        if getattr(backbones, name)().model_name == effdet_name:
            return name
    raise CheckpointError(f"no IceVision backbone name for {effdet_name!r}")


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
    by :func:`~efficientdet_adapter.checkpoint.model_from_checkpoint`.

    ``meta`` must hold plain data only (strings, numbers, lists, dicts).
    """
    from .efficientdet.checkpoint import _check_plain

    if meta is not None and not isinstance(meta, Mapping):
        raise TypeError(f"meta must be a dict or None, got {type(meta).__name__}")
    info = dict(meta or {})
    _check_plain(info, "meta")
    for key, value in (("classes", None if classes is None else [str(c) for c in classes]),
                       ("model_name", model_name), ("backbone_name", backbone_name),
                       ("img_size", img_size)):
        if value is not None:
            info[key] = value
    info.setdefault("time", time.asctime())
    state = {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}
    data: dict[str, Any] = {"meta": info, "state_dict": state}
    if optimizer is not None:
        data["optimizer"] = optimizer.state_dict()
    from .efficientdet.checkpoint import atomic_torch_save

    return atomic_torch_save(data, filename)
