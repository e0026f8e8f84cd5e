"""IceVision 0.12's ``icevision.models.ross.efficientdet.prediction``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from efficientdet_adapter.compat import denormalize_imagenet
from efficientdet_adapter.loop.steps import predictions_from_output
from efficientdet_adapter.inference.prediction import predict, predict_from_dl
from efficientdet_adapter.inference.single_image import end2end_detect
from efficientdet_adapter.records.predictions import Prediction
from efficientdet_adapter.records.record import Record

__all__ = ["predict", "predict_from_dl", "convert_raw_predictions", "end2end_detect"]


def convert_raw_predictions(
    batch: Sequence[Any],
    raw_preds: Any,
    records: Sequence[Record],
    detection_threshold: float,
    keep_images: bool = False,
) -> list[Prediction]:
    """IceVision's ``convert_raw_predictions``: effdet's ``detections`` of a ``valid_dl`` batch
    -> one [`Prediction`][efficientdet_adapter.records.predictions.Prediction] per record (on the
    transformed
    image), as custom Lightning ``validation_step``\\ s call it::

        preds = convert_raw_predictions(batch=(xb, yb), raw_preds=raw_preds["detections"],
                                        records=records, detection_threshold=0.0)

    ``keep_images`` attaches each batch image, denormalized to uint8 RGB, as ``pred.img``
    (ImageNet statistics, as IceVision's did).
    """
    preds = predictions_from_output({"detections": raw_preds}, records, detection_threshold)
    if keep_images:
        images = batch[0]
        for pred, image in zip(preds, images):
            pred.img = denormalize_imagenet(image.detach().float().cpu().numpy())
    return preds
