"""IceVision 0.12's ``icevision.models.ross.efficientdet.dataloaders``."""

from __future__ import annotations

from efficientdet_adapter.loop.dataloaders import (
    build_infer_batch,
    build_train_batch,
    build_valid_batch,
    infer_dl,
    train_dl,
    valid_dl,
)

__all__ = ["build_train_batch", "build_valid_batch", "build_infer_batch", "train_dl", "valid_dl",
           "infer_dl"]
