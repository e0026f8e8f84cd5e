"""Checkpoints: one safe file with the weights and everything needed to rebuild the model.

A checkpoint written by :func:`save_checkpoint` is a plain dict of tensors and JSON-like data::

    {"format": "efficientdet_adapter.checkpoint", "format_version": 1,
     "model_name": "tf_efficientdet_lite0", "num_classes": 3, "img_size": [384, 384],
     "mean": [...], "std": [...], "class_map": {"classes": [...], "background": "background"},
     "state_dict": {<EfficientDet network weights, no prefix>}, "extra": {...}}

:func:`load_model` reads it with ``torch.load(weights_only=True)``, so no pickled code
runs. It also reads the files the training engines write, given what they lack:

- a fastai ``learn.save`` file (``{"model": state_dict, "opt": ...}``) or a bare state dict;
- a Lightning ``ModelCheckpoint`` file (``{"state_dict": {"model.model.backbone...": ...}}``).

The format, the safe loading and the rebuilding live with the models, in
:mod:`efficientdet_adapter.efficientdet.checkpoint`; this module is the public entry point that also
offers IceVision's ``model_from_checkpoint`` (:mod:`efficientdet_adapter.icevision_checkpoint`,
which always returns IceVision's dict), and re-exports the names it always had.

Example:
    >>> save_checkpoint(model, "runs/shapes/model.pt", class_map, extra={"epochs": 12})
    >>> model, class_map, config = load_model("runs/shapes/model.pt")
    >>> model, class_map, config = load_model(
    ...     "models/model.pth", class_map=class_map, model_name="tf_efficientdet_lite0")
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import torch

from .class_map import ClassMap
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
from .icevision_checkpoint import (
    CheckpointAndModel,
    icevision_fields,
    model_from_checkpoint,
    save_icevision_checkpoint,
)

__all__ = [
    "CHECKPOINT_FORMAT",
    "FORMAT_VERSION",
    "save_checkpoint",
    "atomic_torch_save",
    "load_checkpoint_data",
    "load_model",
    "model_from_data",
    "model_from_checkpoint",
    "CheckpointAndModel",
    "convert_checkpoint",
    "save_icevision_checkpoint",
]


def load_model(
    path: str | Path,
    device: str | torch.device = "cpu",
    *,
    class_map: ClassMap | None = None,
    model_name: str | None = None,
    img_size: int | Sequence[int] | None = None,
):
    """Rebuild the model from a checkpoint file, in eval mode on ``device``: the library's own
    loader (IceVision's, which returns a dict, is :func:`model_from_checkpoint`).

    Args:
        path: a :func:`save_checkpoint` file, an IceVision checkpoint (its ``meta`` is checked
            as this library's own files are), a fastai ``learn.save`` file or a Lightning
            ``ModelCheckpoint`` file.
        device: where to put the model.
        class_map, model_name, img_size: what the engines' files do not hold (ignored, with a
            warning on disagreement, for files that hold them). ``img_size`` defaults to the
            effdet config's size for that model, rounded up to a multiple of 128 (lite0: 384).

    Returns:
        ``(model, class_map, config)``: the ``EfficientDetModel``, its :class:`ClassMap` and its
        ``ModelConfig``.

    Example:
        >>> model, class_map, config = load_model("runs/demo/model.pt")
        >>> config.model_name, config.img_size
        ('tf_efficientdet_lite0', (256, 256))
    """
    return model_from_data(load_checkpoint_data(path), path=path, device=device,
                           class_map=class_map, model_name=model_name, img_size=img_size)


def model_from_data(
    data: Mapping[str, Any],
    *,
    path: str | Path,
    device: str | torch.device = "cpu",
    class_map: ClassMap | None = None,
    model_name: str | None = None,
    img_size: int | Sequence[int] | None = None,
):
    """:func:`load_model` on what :func:`load_checkpoint_data` already read from ``path`` (for
    callers that also want the file's ``extra``): ``(model, class_map, config)``."""
    if data["layout"] == "icevision":
        fields = icevision_fields(data["meta"], str(path), state=data["state_dict"])
        data = {**data, "model_name": fields.model_name, "img_size": fields.img_size,
                "class_map": fields.class_map.to_dict()}
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
    model, class_map, _ = load_model(src, class_map=class_map, model_name=model_name,
                                     img_size=img_size)
    return save_checkpoint(model, dst, class_map, extra={"converted_from": str(src), **(extra or {})})
