"""IceVision 0.12's ``icevision.tfms.transform``: a transform is any ``Record -> Record`` callable here."""

from __future__ import annotations

from efficientdet_adapter.records.dataset import Transform

__all__ = ["Transform"]
