"""IceVision 0.12's ``icevision.metrics.metric``."""

from __future__ import annotations

from ..metrics import Metric

__all__ = ["Metric"]
