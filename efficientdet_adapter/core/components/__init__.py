"""IceVision 0.12's ``icevision.core.components``."""

from __future__ import annotations

from . import composite
from .composite import Component, Composite, TaskComponent, TaskComposite

__all__ = ["Component", "Composite", "TaskComponent", "TaskComposite"]
