"""IceVision 0.12's ``icevision.metrics.coco_metric.coco_metric``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from efficientdet_adapter.metrics import (
    COCO_IOU_THRESHOLDS,
    COCOMetric,
    COCOMetricType,
    coco_inputs,
    image_item,
    run_cocoeval,
)
from efficientdet_adapter.records.predictions import Prediction

__all__ = ["COCOMetric", "COCOMetricType", "create_coco_eval"]


def create_coco_eval(records: Sequence[Any], preds: Sequence[Any], metric_type: str,
                     iou_thresholds: Sequence[float] | None = None,
                     show_pbar: bool = False) -> Any:
    """IceVision's ``create_coco_eval``: pycocotools' ``COCOeval`` of ``preds`` (prediction
    records, or [`Prediction`][efficientdet_adapter.records.predictions.Prediction]) against ``records``,
    evaluated and accumulated (call
    ``summarize()`` for its table)."""
    items = [image_item(p if isinstance(p, Prediction) else Prediction(p, r))
             for p, r in zip(preds, records)]
    inputs = coco_inputs(items, None, show_pbar=show_pbar)
    thresholds = COCO_IOU_THRESHOLDS if iou_thresholds is None else iou_thresholds
    import numpy as np  # noqa: PLC0415

    return run_cocoeval(inputs, np.asarray(thresholds, dtype=float), metric_type)
