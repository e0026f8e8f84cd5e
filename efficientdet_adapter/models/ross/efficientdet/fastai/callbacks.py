"""IceVision 0.12's ``icevision.models.ross.efficientdet.fastai.callbacks``."""

from __future__ import annotations

from efficientdet_adapter.efficientdet.fastai import EfficientDetCallback

__all__ = ["EfficientDetCallback"]
