"""IceVision 0.x's ``predict_dl``: predictions in the pixels of the transformed images the
model saw, beside the loader's transformed samples (new code wants ``predict_from_dl``: boxes in
the original images' pixels)."""

from __future__ import annotations

from typing import Any

from torch import nn

from efficientdet_adapter.loop.steps import detect_batch
from efficientdet_adapter.model.ops.targets import predictions_from_detections
from efficientdet_adapter.model.runtime import to_inference_device
from efficientdet_adapter.records.predictions import Prediction
from efficientdet_adapter.records.record import Record

__all__ = ["predict_dl"]


def predict_dl(
    model: nn.Module,
    infer_dl: Any,
    show_pbar: bool = True,
    detection_threshold: float = 0.5,
    **ignored: Any,
) -> tuple[list[Record], list[Prediction]]:
    """IceVision 0.x's form: ``samples, preds = predict_dl(model, infer_dl)``.

    ``samples`` are the loader's dataset items (transformed, with their normalized pixels:
    ``sample["img"]``) and ``preds`` are in those transformed pixels, so
    ``show_preds(imgs=[s["img"] for s in samples], preds=preds, denormalize_fn=...)`` draws them.
    New code wants [`predict_from_dl`][efficientdet_adapter.inference.prediction.predict_from_dl]
    (boxes in the original images' pixels).
    """
    from efficientdet_adapter.base.version_compat import tqdm_class  # noqa: PLC0415

    tqdm = tqdm_class()

    from efficientdet_adapter.loop.dataloaders import build_infer_batch  # noqa: PLC0415

    dataset = infer_dl.dataset
    size = int(getattr(infer_dl, "batch_size", None) or 8)
    device = to_inference_device(model, None)
    samples = [dataset[i] for i in range(len(dataset))]
    preds: list[Prediction] = []
    was_training = model.training
    model.eval()
    try:
        for start in tqdm(range(0, len(samples), size), disable=not show_pbar, desc="predict"):
            chunk = samples[start : start + size]
            dets, _records = detect_batch(model, build_infer_batch(chunk), device)
            preds += predictions_from_detections(
                dets, chunk, detection_threshold=detection_threshold, ground_truth=False)
    finally:
        model.train(was_training)
    return samples, preds
