"""IceVision 0.12's ``icevision.models.ross.efficientdet.prediction``."""

from __future__ import annotations

from ...._faces import PREDICTIONS, not_offered
from ....efficientdet.prediction import end2end_detect, predict, predict_from_dl

__all__ = ["predict", "predict_from_dl", "end2end_detect"]

NOT_OFFERED: dict[str, str] = {
    **dict.fromkeys(['convert_raw_predictions'], PREDICTIONS),
}
__getattr__ = not_offered(__name__, NOT_OFFERED)
