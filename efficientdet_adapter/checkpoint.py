"""Checkpoints, the public face: save a model with everything needed to rebuild it, and load
any checkpoint back (this library's, IceVision's, fastai's, Lightning's, a bare state dict).

The code lives in [`efficientdet_adapter.weights`][efficientdet_adapter.weights] (the package that
reads and writes a
model's parameters); this module names what users call:

- [`save_checkpoint`][efficientdet_adapter.weights.checkpoint.save_checkpoint] /
  [`load_model`][efficientdet_adapter.weights.checkpoint.load_model] (``(model, class_map,
  config)``) /
  [`convert_checkpoint`][efficientdet_adapter.weights.checkpoint.convert_checkpoint]: the library's
  own ([`weights.checkpoint`][efficientdet_adapter.weights.checkpoint]);
- [`model_from_checkpoint`][efficientdet_adapter.weights.checkpoint.model_from_checkpoint] (always
  IceVision's dict,
  [`CheckpointAndModel`][efficientdet_adapter.weights.icevision.CheckpointAndModel]) and
  [`save_icevision_checkpoint`][efficientdet_adapter.weights.icevision.save_icevision_checkpoint]:
  IceVision's ([`weights.icevision`][efficientdet_adapter.weights.icevision]);
- [`load_for_inference`][efficientdet_adapter.checkpoint.load_for_inference]: what ``predict`` and
  ``eval`` need from a checkpoint or from a
  self-contained ONNX export (run by ONNX Runtime).

Example:
    >>> save_checkpoint(model, "runs/shapes/model.pt", class_map, extra={"epochs": 12})
    >>> model, class_map, config = load_model("runs/shapes/model.pt")
    >>> model, class_map, config = load_model(
    ...     "models/model.pth", class_map=class_map, model_name="tf_efficientdet_lite0")
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from torch import nn

from .atomic import atomic_torch_save
from .class_map import ClassMap
from .weights.checkpoint import (
    convert_checkpoint,
    load_model,
    model_from_checkpoint,
    model_from_data,
    save_checkpoint,
)
from .weights.icevision import CheckpointAndModel, save_icevision_checkpoint
from .weights.state_dict import CHECKPOINT_FORMAT, FORMAT_VERSION, load_checkpoint_data

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
    "InferenceModel",
    "load_for_inference",
]


@dataclasses.dataclass
class InferenceModel:
    """A model file, ready to predict: what
    [`load_for_inference`][efficientdet_adapter.checkpoint.load_for_inference] returns.

    Attributes:
        model: the ``EfficientDetModel``, or an ``OnnxModel`` for a ``.onnx`` file; every
            prediction function takes either.
        class_map: its class map.
        category_ids: ``{label id: dataset category id}`` (a COCO export's own ids, kept by
            ``train``), or None when the file does not hold them.
        extra: the checkpoint's ``extra`` (the run's options, start and split); empty for an
            ONNX file.
    """

    model: nn.Module
    class_map: ClassMap
    category_ids: dict[int, int] | None
    extra: dict = dataclasses.field(default_factory=dict)


def load_for_inference(path: str | Path, device: str = "cpu") -> InferenceModel:
    """Open a checkpoint (read once, as
    [`load_model`][efficientdet_adapter.weights.checkpoint.load_model]) or, for a ``.onnx`` file, a
    self-contained ONNX export
    ([`load_onnx`][efficientdet_adapter.efficientdet.onnx_model.load_onnx]).

    Example:
        >>> loaded = load_for_inference("runs/shapes/model.onnx")          # doctest: +SKIP
        >>> preds = efficientdet.predict(loaded.model, ds)                 # doctest: +SKIP
    """
    path = Path(path)
    if path.suffix.lower() == ".onnx":
        from .efficientdet.onnx_model import load_onnx

        onnx_model = load_onnx(path)
        return InferenceModel(onnx_model, onnx_model.class_map, onnx_model.category_ids)
    data = load_checkpoint_data(path)  # read once: the model and the file's extra
    model, class_map, _ = model_from_data(data, path=path, device=device)
    extra = data.get("extra", {}) or {}
    ids = {int(k): int(v) for k, v in (extra.get("category_ids") or {}).items()} or None
    return InferenceModel(model, class_map, ids, extra)
