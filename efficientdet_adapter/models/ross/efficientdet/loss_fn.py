"""IceVision 0.12's ``icevision.models.ross.efficientdet.loss_fn``."""

from __future__ import annotations

from typing import Any

__all__ = ["loss_fn"]


def loss_fn(preds: dict[str, Any], targets: Any) -> Any:
    """IceVision's ``loss_fn``: effdet's bench already computed the loss; this reads it."""
    return preds["loss"]
