"""Checkpoints, the public face: save a model with everything needed to rebuild it, and load
any checkpoint back (this library's, IceVision's, fastai's, Lightning's, a bare state dict).

The code lives in [`efficientdet_adapter.weights`][efficientdet_adapter.weights] (the package that
reads and writes a
model's parameters); this module names what users call:

- [`save_checkpoint`][efficientdet_adapter.checkpoints.checkpoint.save_checkpoint] /
  [`load_model`][efficientdet_adapter.checkpoints.checkpoint.load_model] (``(model, class_map,
  config)``) /
  [`convert_checkpoint`][efficientdet_adapter.checkpoints.checkpoint.convert_checkpoint]: the library's
  own ([`weights.checkpoint`][efficientdet_adapter.checkpoints.checkpoint]);
- [`model_from_checkpoint`][efficientdet_adapter.models.checkpoint.model_from_checkpoint] (always
  IceVision's dict,
  [`CheckpointAndModel`][efficientdet_adapter.model.icevision.CheckpointAndModel]) and
  [`save_icevision_checkpoint`][efficientdet_adapter.model.icevision.save_icevision_checkpoint]:
  IceVision's ([`weights.icevision`][efficientdet_adapter.model.icevision]);
- [`load_for_inference`][efficientdet_adapter.checkpoints.load.load_for_inference]: what ``predict`` and
  ``eval`` need from a checkpoint or from a
  self-contained ONNX export (run by ONNX Runtime).

Example:
    >>> save_checkpoint(model, "runs/shapes/model.pt", class_map, extra={"epochs": 12})
    >>> model, class_map, config = load_model("runs/shapes/model.pt")
    >>> model, class_map, config = load_model(
    ...     "models/model.pth", class_map=class_map, model_name="tf_efficientdet_lite0")
"""

from __future__ import annotations

from efficientdet_adapter.base.atomic import atomic_torch_save
from efficientdet_adapter.checkpoints.load import InferenceModel, load_for_inference
from efficientdet_adapter.models.checkpoint import model_from_checkpoint
from efficientdet_adapter.checkpoints.checkpoint import convert_checkpoint, load_model, model_from_data, save_checkpoint
from efficientdet_adapter.model.icevision import CheckpointAndModel, save_icevision_checkpoint
from efficientdet_adapter.weights.state_dict import CHECKPOINT_FORMAT, FORMAT_VERSION, load_checkpoint_data

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
