"""IceVision 0.12's ``icevision.models.ross.efficientdet``:
[`efficientdet_adapter.efficientdet`][efficientdet_adapter.efficientdet].

IceVision code picks its model as ``model_type = models.ross.efficientdet`` and calls
``model_type.model(...)``, ``model_type.train_dl(...)``, ``model_type.fastai.learner(...)``,
``model_type.lightning.ModelAdapter``: every name of
[`efficientdet_adapter.efficientdet`][efficientdet_adapter.efficientdet] is
here, and its submodules have their IceVision paths (``...efficientdet.lightning``,
``...efficientdet.backbones``, ``...efficientdet.prediction``...).
"""

from __future__ import annotations

import sys
from importlib import import_module
from typing import Any

from efficientdet_adapter import efficientdet as _efficientdet
from efficientdet_adapter.base.faces import BACKBONE_CONFIG, INTERNAL, gather, not_offered
from efficientdet_adapter.models.ross.efficientdet import backbones as _backbones
from efficientdet_adapter.models.ross.efficientdet import dataloaders, utils
from efficientdet_adapter.models.ross.efficientdet import prediction as _prediction
from efficientdet_adapter.models.ross.efficientdet import loss_fn as _loss_fn
from efficientdet_adapter.models.ross.efficientdet import model as _model
from efficientdet_adapter.models.ross.efficientdet import show_batch as _show_batch
from efficientdet_adapter.models.ross.efficientdet import show_results as _show_results

# every name of efficientdet_adapter.efficientdet (fastai and lightning: below), then the
# functions that share a submodule's name, as IceVision's package exported them
_names = [n for n in _efficientdet.__all__ if n not in ("fastai", "lightning")]
globals().update({n: getattr(_efficientdet, n) for n in _names})
gather(globals(), _backbones, _loss_fn, _model, _show_batch, _show_results)
convert_raw_predictions = _prediction.convert_raw_predictions

__all__ = sorted({*_names, *_backbones.__all__, "loss_fn", "interp", "convert_raw_predictions",
                  "fastai", "lightning"})

NOT_OFFERED: dict[str, str] = {
    **_backbones.NOT_OFFERED,
    "EfficientDetBackboneConfig": BACKBONE_CONFIG,
    "SoftDependencies": INTERNAL,
}
_missing = not_offered(__name__, NOT_OFFERED)


def __getattr__(name: str) -> Any:
    """``fastai`` and ``lightning`` (their IceVision faces) load on first use, as the real
    package's do; any other name of
    [`efficientdet_adapter.efficientdet`][efficientdet_adapter.efficientdet] is read there."""
    if name in ("fastai", "lightning"):
        module = import_module(f".{name}", __name__)
        globals()[name] = module
        return module
    if name in NOT_OFFERED:
        return _missing(name)
    return getattr(_efficientdet, name)


# IceVision's notebooks print their model_type: without the file path of the machine it runs on
sys.modules[__name__].__class__ = type(_efficientdet)
