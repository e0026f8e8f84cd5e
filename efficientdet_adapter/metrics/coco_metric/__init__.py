"""IceVision 0.12's ``icevision.metrics.coco_metric``."""

from __future__ import annotations

from efficientdet_adapter.metrics.coco_metric import coco_metric
from efficientdet_adapter.metrics.coco_metric.coco_metric import COCOMetric, COCOMetricType, create_coco_eval

__all__ = ["COCOMetric", "COCOMetricType", "create_coco_eval"]
