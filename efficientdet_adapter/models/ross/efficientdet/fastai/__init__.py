"""IceVision 0.12's ``icevision.models.ross.efficientdet.fastai``:
[`efficientdet_adapter.efficientdet.fastai`][efficientdet_adapter.efficientdet.fastai]'s names."""

from __future__ import annotations

from efficientdet_adapter.efficientdet import fastai as _real
from efficientdet_adapter.models.ross.efficientdet.fastai import callbacks, learner  # first: the names below then replace the submodules

globals().update({n: getattr(_real, n) for n in _real.__all__})
EfficientDetCallback = _real.EfficientDetCallback
learner = _real.learner  # noqa: F811 - the function, as IceVision's package exported it

__all__ = sorted({*_real.__all__, "EfficientDetCallback", "learner"})
