"""IceVision 0.12's ``icevision.core.components.composite``."""

from __future__ import annotations

from ...record_components import Component, Composite
from ...record_components import Component as TaskComponent
from ...record_components import ComponentRecord as TaskComposite

__all__ = ["Component", "Composite", "TaskComponent", "TaskComposite"]
