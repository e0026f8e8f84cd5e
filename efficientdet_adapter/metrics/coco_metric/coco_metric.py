"""IceVision 0.12's ``icevision.metrics.coco_metric.coco_metric``."""

from __future__ import annotations

from ...metrics import COCOMetric, COCOMetricType

__all__ = ["COCOMetric", "COCOMetricType"]
