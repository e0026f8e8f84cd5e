"""IceVision 0.12's ``icevision.data.prediction``."""

from __future__ import annotations

from efficientdet_adapter.records.predictions import Prediction

__all__ = ["Prediction"]
