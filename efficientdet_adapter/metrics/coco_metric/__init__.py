"""IceVision 0.12's ``icevision.metrics.coco_metric``."""

from __future__ import annotations

from . import coco_metric
from .coco_metric import COCOMetric, COCOMetricType, create_coco_eval

__all__ = ["COCOMetric", "COCOMetricType", "create_coco_eval"]
