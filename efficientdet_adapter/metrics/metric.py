"""IceVision 0.12's ``icevision.metrics.metric``."""

from __future__ import annotations

from efficientdet_adapter.metrics import Metric

__all__ = ["Metric"]
