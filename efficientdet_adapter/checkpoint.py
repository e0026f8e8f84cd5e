"""Checkpoints: one safe file with the weights and everything needed to rebuild the model.

A checkpoint written by :func:`save_checkpoint` is a plain dict of tensors and JSON-like data::

    {"format": "efficientdet_adapter.checkpoint", "format_version": 1,
     "model_name": "tf_efficientdet_lite0", "num_classes": 3, "img_size": [384, 384],
     "mean": [...], "std": [...], "class_map": {"classes": [...], "background": "background"},
     "state_dict": {<EfficientDet network weights, no prefix>}, "extra": {...}}

:func:`model_from_checkpoint` reads it with ``torch.load(weights_only=True)``, so no pickled code
runs. It also reads the files the training engines write, given what they lack:

- a fastai ``learn.save`` file (``{"model": state_dict, "opt": ...}``) or a bare state dict;
- a Lightning ``ModelCheckpoint`` file (``{"state_dict": {"model.model.backbone...": ...}}``).

The format, the safe loading and the rebuilding live with the models, in
:mod:`efficientdet_adapter.efficientdet.checkpoint`; this module is the public entry point that also
answers IceVision's calls (:mod:`efficientdet_adapter.icevision_checkpoint`), and re-exports the
names it always had.

Example:
    >>> save_checkpoint(model, "runs/shapes/model.pt", class_map, extra={"epochs": 12})
    >>> model, class_map, config = model_from_checkpoint("runs/shapes/model.pt")
    >>> model, class_map, config = model_from_checkpoint(
    ...     "models/model.pth", class_map=class_map, model_name="tf_efficientdet_lite0")
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import torch

from .class_map import ClassMap
from .downloads import is_url
from .efficientdet.checkpoint import (  # the names this module always had (training/ uses
    CHECKPOINT_FORMAT,                   # the private ones)
    FORMAT_VERSION,
    MAX_IMG_SIZE,
    _check_plain,
    _umask,
    atomic_torch_save,
    load_checkpoint_data,
    model_metadata,
    rebuild_model,
    save_checkpoint,
)
from .efficientdet.wrappers import find_network as _network
from .icevision_checkpoint import icevision_model_from_checkpoint, save_icevision_checkpoint

__all__ = [
    "CHECKPOINT_FORMAT",
    "FORMAT_VERSION",
    "save_checkpoint",
    "atomic_torch_save",
    "load_checkpoint_data",
    "model_from_checkpoint",
    "convert_checkpoint",
    "save_icevision_checkpoint",
]


def model_from_checkpoint(
    path: str | Path,
    device: str | torch.device = "cpu",
    *,
    class_map: ClassMap | None = None,
    model_name: str | None = None,
    img_size: int | Sequence[int] | None = None,
    backbone_name: str | None = None,
    classes: Sequence[str] | None = None,
    is_coco: bool = False,
    eval_mode: bool = True,
    check_hash: bool = False,
    hash_prefix: str | None = None,
    **ignored: Any,
):
    """Rebuild the model from a checkpoint file, in eval mode on ``device``.

    Called IceVision's way, it returns IceVision's dict instead of the tuple: that is, for an
    IceVision checkpoint file or a URL, or when any of ``backbone_name``, ``classes``,
    ``is_coco``, ``eval_mode=False`` or a ``model_name`` such as ``"ross.efficientdet"``
    (library.model) is given. See
    :func:`~efficientdet_adapter.icevision_checkpoint.icevision_model_from_checkpoint`::

        >>> loaded = model_from_checkpoint("fridge.pth", model_name="ross.efficientdet",
        ...                                backbone_name="tf_lite0", img_size=384)  # doctest: +SKIP
        >>> loaded["model"], loaded["class_map"]                                     # doctest: +SKIP

    Args:
        path: a :func:`save_checkpoint` file, a fastai ``learn.save`` file or a Lightning
            ``ModelCheckpoint`` file.
        device: where to put the model.
        class_map, model_name, img_size: what the engines' files do not hold (ignored, with a
            warning on disagreement, for files that hold them). ``img_size`` defaults to the
            effdet config's size for that model, rounded up to a multiple of 128 (lite0: 384).
        check_hash, hash_prefix: for a URL, as ``torch.hub``: compare the download's SHA-256
            with the ``-<hex>`` in its file name, or with ``hash_prefix`` (see
            :mod:`efficientdet_adapter.downloads`: cached by a hash of the whole URL, at most
            2 GiB).

    Returns:
        ``(model, class_map, config)``: the ``EfficientDetModel``, its :class:`ClassMap` and its
        ``ModelConfig``.

    Example:
        >>> model, class_map, config = model_from_checkpoint("runs/demo/model.pt")
        >>> config.model_name, config.img_size
        ('tf_efficientdet_lite0', (256, 256))
    """
    icevision_call = (
        backbone_name is not None or classes is not None or is_coco or not eval_mode
        or (model_name is not None and "." in model_name)
        or is_url(str(path))
    )
    data = None if icevision_call else load_checkpoint_data(Path(path))
    if data is None or data["layout"] == "icevision":
        return icevision_model_from_checkpoint(
            path, model_name=model_name, backbone_name=backbone_name, classes=classes,
            is_coco=is_coco, img_size=img_size, eval_mode=eval_mode, device=device,
            check_hash=check_hash, hash_prefix=hash_prefix,
        )
    return rebuild_model(data, path=path, device=device, class_map=class_map,
                         model_name=model_name, img_size=img_size)


def convert_checkpoint(
    src: str | Path,
    dst: str | Path,
    *,
    class_map: ClassMap | None = None,
    model_name: str | None = None,
    img_size: int | Sequence[int] | None = None,
    extra: Mapping[str, Any] | None = None,
) -> Path:
    """Turn a fastai or Lightning file into a :func:`save_checkpoint` file.

    Example:
        >>> convert_checkpoint("models/model.pth", "model.pt", class_map=class_map,
        ...                    model_name="tf_efficientdet_lite0", img_size=384)
    """
    model, class_map, _ = model_from_checkpoint(
        src, class_map=class_map, model_name=model_name, img_size=img_size
    )
    return save_checkpoint(model, dst, class_map, extra={"converted_from": str(src), **(extra or {})})
