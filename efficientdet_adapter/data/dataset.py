"""IceVision 0.12's ``icevision.data.dataset``."""

from __future__ import annotations

from efficientdet_adapter.records.dataset import Dataset

__all__ = ["Dataset"]
