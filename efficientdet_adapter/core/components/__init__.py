"""IceVision 0.12's ``icevision.core.components``."""

from __future__ import annotations

from efficientdet_adapter.core.components import composite
from efficientdet_adapter.core.components.composite import Component, Composite, TaskComponent, TaskComposite

__all__ = ["Component", "Composite", "TaskComponent", "TaskComposite"]
