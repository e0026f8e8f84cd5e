"""IceVision 0.12's ``icevision.core.id_map``."""

from __future__ import annotations

from efficientdet_adapter.compat import IDMap

__all__ = ["IDMap"]
