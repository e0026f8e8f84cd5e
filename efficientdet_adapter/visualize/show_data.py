"""IceVision 0.12's ``icevision.visualize.show_data``."""

from __future__ import annotations

from efficientdet_adapter.pictures.show import show_pred, show_preds
from efficientdet_adapter.pictures.draw import show_record, show_records, show_sample, show_samples

__all__ = ["show_sample", "show_record", "show_pred", "show_samples", "show_records", "show_preds"]
