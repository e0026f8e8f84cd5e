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
  IceVision's ([`weights.icevision`][efficientdet_adapter.weights.icevision]).

Example:
    >>> save_checkpoint(model, "runs/shapes/model.pt", class_map, extra={"epochs": 12})
    >>> model, class_map, config = load_model("runs/shapes/model.pt")
    >>> model, class_map, config = load_model(
    ...     "models/model.pth", class_map=class_map, model_name="tf_efficientdet_lite0")
"""

from __future__ import annotations

from .atomic import atomic_torch_save
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
]
