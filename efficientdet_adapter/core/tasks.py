"""IceVision 0.12's ``icevision.core.tasks``."""

from __future__ import annotations

from efficientdet_adapter.records.components import Task, classification, common, detection

__all__ = ["Task", "classification", "common", "detection"]
