"""IceVision 0.12's ``icevision.models.ross.efficientdet.lightning``:
[`efficientdet_adapter.efficientdet.lightning`][efficientdet_adapter.efficientdet.lightning]'s
names."""

from __future__ import annotations

from efficientdet_adapter.efficientdet import lightning as _real
from efficientdet_adapter.models.ross.efficientdet.lightning import model_adapter

globals().update({n: getattr(_real, n) for n in _real.__all__})
ModelAdapter = _real.ModelAdapter

__all__ = sorted({*_real.__all__, "ModelAdapter"})
