"""IceVision 0.12's ``icevision.core.components.composite``."""

from __future__ import annotations

from efficientdet_adapter.records.components import Component, Composite
from efficientdet_adapter.records.components import Component as TaskComponent
from efficientdet_adapter.records.components import ComponentRecord as TaskComposite

__all__ = ["Component", "Composite", "TaskComponent", "TaskComposite"]
