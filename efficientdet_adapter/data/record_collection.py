"""IceVision 0.12's ``icevision.data.record_collection``."""

from __future__ import annotations

from efficientdet_adapter.records.collection import RecordCollection

__all__ = ["RecordCollection"]
