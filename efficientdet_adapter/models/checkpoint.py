"""IceVision 0.12's ``icevision.models.checkpoint``: ``model_from_checkpoint`` returns IceVision's
dict, whose ``model_type`` is this library's [`efficientdet`][efficientdet_adapter.efficientdet]
package (a face, so the reading itself lives below it, in
[`checkpoint_and_model`][efficientdet_adapter.checkpoints.checkpoint.checkpoint_and_model])."""

from __future__ import annotations

import dataclasses
import inspect

from efficientdet_adapter import efficientdet
from efficientdet_adapter.checkpoints.checkpoint import checkpoint_and_model
from efficientdet_adapter.model.icevision import CLASSES, CheckpointAndModel, save_icevision_checkpoint

__all__ = ["save_icevision_checkpoint", "model_from_checkpoint", "CLASSES"]


def model_from_checkpoint(*args, **kwargs) -> CheckpointAndModel:
    """IceVision 0.12's ``model_from_checkpoint``: the model rebuilt from a file, with its class
    map, in IceVision's dict, whose ``model_type`` is the package ``efficientdet``. It takes the
    arguments of [`checkpoint_and_model`][efficientdet_adapter.checkpoints.checkpoint.checkpoint_and_model]
    (documented there); the library's own tuple comes from ``load_model``.

    Example:
        >>> loaded = model_from_checkpoint("runs/shapes/model.pt")         # doctest: +SKIP
        >>> loaded["model"], loaded["class_map"], loaded["model_type"]      # doctest: +SKIP
    """
    return dataclasses.replace(checkpoint_and_model(*args, **kwargs), model_type=efficientdet)


model_from_checkpoint.__signature__ = inspect.signature(checkpoint_and_model)  # type: ignore[attr-defined]
