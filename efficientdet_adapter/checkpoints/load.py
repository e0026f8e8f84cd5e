"""A model file, ready to predict: a checkpoint of this library (read once) or a self-contained
ONNX export, with its class map, dataset category ids and the run's ``extra``."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from torch import nn

from efficientdet_adapter.records.class_map import ClassMap
from efficientdet_adapter.checkpoints.checkpoint import model_from_data
from efficientdet_adapter.weights.state_dict import load_checkpoint_data

__all__ = ["InferenceModel", "load_for_inference"]


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
    [`load_model`][efficientdet_adapter.checkpoints.checkpoint.load_model]) or, for a ``.onnx`` file, a
    self-contained ONNX export
    ([`load_onnx`][efficientdet_adapter.model.onnx_model.load_onnx]).

    Example:
        >>> loaded = load_for_inference("runs/shapes/model.onnx")          # doctest: +SKIP
        >>> preds = efficientdet.predict(loaded.model, ds)                 # doctest: +SKIP
    """
    path = Path(path)
    if path.suffix.lower() == ".onnx":
        from efficientdet_adapter.model.onnx_model import load_onnx  # noqa: PLC0415

        onnx_model = load_onnx(path)
        return InferenceModel(onnx_model, onnx_model.class_map, onnx_model.category_ids)
    data = load_checkpoint_data(path)  # read once: the model and the file's extra
    model, class_map, _ = model_from_data(data, path=path, device=device)
    extra = data.get("extra", {}) or {}
    ids = {int(k): int(v) for k, v in (extra.get("category_ids") or {}).items()} or None
    return InferenceModel(model, class_map, ids, extra)
