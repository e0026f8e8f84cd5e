"""IceVision 0.12's ``icevision.data.record_collection``."""

from __future__ import annotations

from ..record_collection import RecordCollection

__all__ = ["RecordCollection"]
