"""IceVision 0.12's ``icevision.models.ross.efficientdet.fastai.learner``."""

from __future__ import annotations

from efficientdet_adapter.efficientdet.fastai import learner

__all__ = ["learner"]
