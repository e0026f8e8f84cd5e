"""The training and validation steps, as plain functions that any loop can call.

A batch from [`dataloaders`][efficientdet_adapter.loop.dataloaders] is ``((images, targets),
records)``. The fastai learner
([`fastai.learn`][efficientdet_adapter.engines.fastai.learn]), the Lightning adapter
([`lightning.adapter`][efficientdet_adapter.engines.lightning.adapter]) and a hand-written loop all
call these
functions, so they compute the same thing by construction:

>>> for batch in train_dl:                                  # doctest: +SKIP
...     loss = loss_step(model, batch)["loss"]
...     loss.backward(); opt.step(); opt.zero_grad()
>>> losses, preds = validation_step(model, valid_batch)     # doctest: +SKIP
>>> metric.accumulate(preds)                                # doctest: +SKIP

Validation predictions are made on the transformed (resized, padded) image and compared with the
transformed record that came with the batch, so boxes and ground truth share one pixel grid.

Mixed precision: run [`loss_step`][efficientdet_adapter.loop.steps.loss_step] under
    ``torch.autocast`` (the engines do). Only the network
runs in half precision; the anchor labels and effdet's loss are computed in float32 (the loss
casts the network's outputs up), so the losses are float32. Half-precision convolutions want the
``channels_last`` memory layout (in NCHW, cuDNN wraps each fp16/bf16 convolution in layout
transposes): [`use_channels_last`][efficientdet_adapter.loop.steps.use_channels_last] converts
the network, and the steps then hand it images in
the same layout. The engines do it by default (``channels_last="auto"``, decided by
[`channels_last_pays`][efficientdet_adapter.loop.steps.channels_last_pays]) on a GPU in mixed
precision and on the CPU, where oneDNN's convolutions prefer it too. No step
reads a device value on the host (no ``.item()``, no boolean-mask indexing), so the CPU can queue
the next step while the GPU computes.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from efficientdet_adapter.model.runtime import detect, model_device
from efficientdet_adapter.model.wrappers import find_network
from efficientdet_adapter.base.errors import BatchError
from efficientdet_adapter.records.predictions import Prediction
from efficientdet_adapter.records.record import Record

__all__ = [
    "LOSS_KEYS",
    "batch_size",
    "channels_last_pays",
    "eval_mode",
    "input_memory_format",
    "loss_step",
    "one_cycle_pct_start",
    "predict_step",
    "predictions_from_output",
    "split_batch",
    "to_device",
    "use_channels_last",
    "validation_step",
]

#: The losses effdet's bench returns, in the order they are logged.
LOSS_KEYS = ("loss", "class_loss", "box_loss")


def split_batch(batch: Sequence[Any]) -> tuple[Tensor, dict[str, Any], list[Record]]:
    """``((images, targets), records)`` -> ``(images, targets, records)``, checked.

    Raises:
        BatchError: when ``batch`` does not have that shape (e.g. an inference batch, whose
            targets have no boxes, passed to a training step).
    """
    try:
        (images, targets), records = batch
    except (TypeError, ValueError):
        raise BatchError(
            f"expected a batch ((images, targets), records) from efficientdet.train_dl/valid_dl, "
            f"got {type(batch).__name__} of length {_len(batch)}"
        ) from None
    if not isinstance(images, Tensor) or images.ndim != 4:
        raise BatchError(
            f"batch images must be a float tensor [B, 3, H, W], got "
            f"{getattr(images, 'shape', type(images).__name__)}"
        )
    if not isinstance(targets, dict) or "bbox" not in targets or "cls" not in targets:
        keys = sorted(targets) if isinstance(targets, dict) else type(targets).__name__
        raise BatchError(
            f"batch targets must be a dict with 'bbox' and 'cls' (a train or valid batch), "
            f"got {keys}; inference batches from infer_dl have no targets"
        )
    records = list(records)
    if len(records) != images.shape[0]:
        raise BatchError(f"batch has {images.shape[0]} images but {len(records)} records")
    return images, targets, records


def to_device(value: Any, device: torch.device) -> Any:
    """``value`` (a tensor, or a dict/list/tuple of them) on ``device``; anything else as is."""
    if isinstance(value, Tensor):
        return value.to(device, non_blocking=True)
    if isinstance(value, dict):
        return {k: to_device(v, device) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(to_device(v, device) for v in value)
    return value


def use_channels_last(model: nn.Module, enabled: bool = True) -> nn.Module:
    """Convert the network's weights to the ``channels_last`` layout (or back, ``enabled=False``).

    Values do not change, only their memory layout;
    [`loss_step`][efficientdet_adapter.loop.steps.loss_step] and
    [`validation_step`][efficientdet_adapter.loop.steps.validation_step] then pass images in the
    same layout. Returns ``model``.

    Example:
        >>> use_channels_last(model)                                     # doctest: +SKIP
        >>> input_memory_format(model)                                   # doctest: +SKIP
        torch.channels_last
    """
    fmt = torch.channels_last if enabled else torch.contiguous_format
    find_network(model).to(memory_format=fmt)
    return model


def channels_last_pays(device_type: str, mixed_precision: bool) -> bool:
    """Whether training in the ``channels_last`` layout is faster here: the engines'
    ``channels_last="auto"``.

    True on a GPU in mixed precision (cuDNN's half-precision convolutions want it) and on the
    CPU (oneDNN's convolutions do; see docs/benchmarks.md for the measured steps). A GPU in
    float32 keeps the default layout.
    """
    if device_type == "cpu":
        return True
    return device_type == "cuda" and mixed_precision


def input_memory_format(model: nn.Module) -> torch.memory_format:
    """``torch.channels_last`` when the network's first convolution is in that layout (see
    [`use_channels_last`][efficientdet_adapter.loop.steps.use_channels_last]), else
    ``torch.contiguous_format``."""
    for p in model.parameters():
        if p.ndim == 4:
            cl = p.is_contiguous(memory_format=torch.channels_last) and not p.is_contiguous()
            return torch.channels_last if cl else torch.contiguous_format
    return torch.contiguous_format


def batch_size(batch: Sequence[Any]) -> int:
    """The number of images in a batch (not the number of boxes or target keys)."""
    (images, _), _ = batch
    return int(images.shape[0])


def loss_step(model: nn.Module, batch: Sequence[Any]) -> dict[str, Tensor]:
    """Run the model on a batch and return its losses ``{"loss", "class_loss", "box_loss"}``.

    The model runs in whatever mode it is in (call ``model.train()`` first when training). The
    returned ``"loss"`` keeps its graph: call ``.backward()`` on it.

    Example:
        >>> losses = loss_step(model, next(iter(train_dl)))   # doctest: +SKIP
        >>> losses["loss"].backward()                          # doctest: +SKIP
    """
    images, targets, _ = split_batch(batch)
    images = images.contiguous(memory_format=input_memory_format(model))
    output = model(images, targets)
    return {k: output[k] for k in LOSS_KEYS}


@contextlib.contextmanager
def eval_mode(model: nn.Module) -> Iterator[nn.Module]:
    """Put ``model`` in eval mode for the block and restore its previous mode after it."""
    was_training = model.training
    model.eval()
    try:
        yield model
    finally:
        model.train(was_training)


def predictions_from_output(
    output: dict[str, Tensor], records: Sequence[Record], detection_threshold: float = 0.0
) -> list[Prediction]:
    """effdet's eval output (``"detections"`` [B, K, 6]) -> one
    [`Prediction`][efficientdet_adapter.records.predictions.Prediction] per record.

    Each prediction's ``ground_truth`` is its (transformed) record, without its pixels. With the default threshold
    of 0 every real detection is kept (COCO AP ranks all of them); effdet's zero-padded rows are
    dropped by the conversion.
    """
    from efficientdet_adapter.model.ops.targets import predictions_from_detections  # knows effdet's rows  # noqa: PLC0415

    if "detections" not in output:
        raise BatchError(
            "the model returned no 'detections': it must be in eval mode and the batch must come "
            "from valid_dl (targets with img_size and img_scale)"
        )
    # The metric keeps every ground truth until the epoch ends: drop the batch's pixels.
    records = [r.copy(img=None) if r.img is not None else r for r in records]
    return predictions_from_detections(
        output["detections"], records, detection_threshold=detection_threshold
    )


def validation_step(
    model: nn.Module, batch: Sequence[Any], detection_threshold: float = 0.0
) -> tuple[dict[str, Tensor], list[Prediction]]:
    """Losses and predictions for a validation batch (from ``valid_dl``).

    The model runs in eval mode without gradients (its previous mode is restored). The
    predictions are on the transformed image, with the batch's transformed records as
    ``ground_truth``: pass them straight to ``COCOMetric.accumulate``.

    Example:
        >>> losses, preds = validation_step(model, next(iter(valid_dl)))   # doctest: +SKIP
        >>> float(losses["loss"]), len(preds)                              # doctest: +SKIP
        (1.52, 4)
    """
    images, targets, records = split_batch(batch)
    if "img_size" not in targets or "img_scale" not in targets:
        raise BatchError(
            "validation batches need targets['img_size'] and targets['img_scale']: build them "
            "with efficientdet.valid_dl (or build_valid_batch), not train_dl"
        )
    device = model_device(model)  # the batch follows the model (fastai may have moved it)
    images, targets = to_device(images, device), to_device(targets, device)
    images = images.contiguous(memory_format=input_memory_format(model))
    with eval_mode(model), torch.no_grad():
        output = model(images, targets)
    losses = {k: output[k] for k in LOSS_KEYS}
    return losses, predictions_from_output(output, records, detection_threshold)


def detect_batch(
    model: nn.Module, batch: Sequence[Any], device: torch.device | None = None
) -> tuple[np.ndarray, list[Record]]:
    """The one batch step of every prediction loop: an inference batch ``((images, img_info),
    records)`` from ``infer_dl`` run through the model's post-process
    ([`detect`][efficientdet_adapter.model.runtime.detect]), as float32 detections
    ``[B, K, 6]`` on the CPU (input pixels) and the batch's records. The model's mode is left as
    it is (the loops set eval mode once); ``device``: where the images go (the model's)."""
    try:
        (images, _info), records = batch
    except (TypeError, ValueError):
        raise BatchError(
            "expected an inference batch ((images, img_info), records) from efficientdet.infer_dl"
        ) from None
    dets = detect(model, to_device(images, model_device(model) if device is None else device))
    return dets.float().cpu().numpy(), list(records)


def predict_step(
    model: nn.Module, batch: Sequence[Any], detection_threshold: float = 0.5
) -> list[Prediction]:
    """Predictions for an inference batch ``((images, img_info), records)`` from ``infer_dl``.

    Boxes are in the pixels of the transformed images the model saw (the batch's records);
    [`efficientdet.predict_from_dl`][efficientdet_adapter.inference.prediction.predict_from_dl]
    maps them back to the original images. The predictions
    carry no ``ground_truth`` (score a validation batch with
    [`validation_step`][efficientdet_adapter.loop.steps.validation_step]).
    """
    from efficientdet_adapter.model.ops.targets import predictions_from_detections  # noqa: PLC0415

    with eval_mode(model):
        detections, records = detect_batch(model, batch)
    return predictions_from_detections(
        detections, records, detection_threshold=detection_threshold, ground_truth=False
    )


def _len(x: Any) -> str:
    try:
        return str(len(x))
    except TypeError:
        return "?"


def one_cycle_pct_start(total_steps: int, pct_start: float = 0.25) -> float:
    """``pct_start`` for ``torch.optim.lr_scheduler.OneCycleLR`` that never divides by zero.

    OneCycleLR's warm-up ends at step ``pct_start * total_steps - 1`` and its annealing at
    ``total_steps - 1``; it divides by the length of each phase, so a warm-up that ends at step
    0 (4 steps at 0.25) or an annealing of length 0 (``pct_start`` 1: what 2 steps asked for
    before) raises ZeroDivisionError, on the warm-up's first step or on the last ``step()``
    that Lightning calls after the last optimizer step. The warm-up is made at least two steps
    long and always leaves half a step to anneal (2 steps: 0.75; unchanged for 1 step and for
    8 or more).

    Example:
        >>> one_cycle_pct_start(2), one_cycle_pct_start(4), one_cycle_pct_start(100)
        (0.75, 0.5, 0.25)
    """
    if total_steps < 2:
        return pct_start
    return min(max(pct_start, 2.0 / total_steps), (total_steps - 0.5) / total_steps)
