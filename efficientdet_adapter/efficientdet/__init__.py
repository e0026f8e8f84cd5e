"""EfficientDet through IceVision's verbs: ``efficientdet.model``, ``train_dl``, ``predict``, ...

``efficientdet.fastai`` and ``efficientdet.lightning`` are imported on first use, so that the
core works without those optional packages installed.
"""

from __future__ import annotations

import importlib
import sys
import types
from typing import Any

from ..version_compat import import_effdet_quietly

import_effdet_quietly()  # before the modules below import effdet

from .. import weights  # the weights package (table, hub, reader, loading)
from . import backbones  # IceVision's efficientdet.backbones.tf_lite0()
from . import interpretation
from . import interpretation as interp  # IceVision's efficientdet.interp.plot_top_losses
from .dataloaders import (
    build_infer_batch,
    build_train_batch,
    build_valid_batch,
    infer_dl,
    show_batch,
    train_dl,
    valid_dl,
)
from .onnx_model import OnnxModel, load_onnx
from .resize import set_img_size
from .runtime import Accelerated, accelerate
from .model import (
    EfficientDetModel,
    ModelConfig,
    ModelConfigError,
    anchor_labeler,
    list_models,
    mean_std,
    model,
    normalize_tfm,
    param_groups,
)
from .prediction import (
    detect_image,
    end2end_detect,
    inference_tfm,
    predict,
    predict_dl,
    predict_from_dl,
    show_results,
)
from .show import annotate, show_pred, show_preds

__all__ = [
    "Accelerated",
    "EfficientDetModel",
    "ModelConfig",
    "ModelConfigError",
    "OnnxModel",
    "accelerate",
    "anchor_labeler",
    "annotate",
    "backbones",
    "build_infer_batch",
    "build_train_batch",
    "build_valid_batch",
    "detect_image",
    "end2end_detect",
    "export_onnx",
    "export_torchscript",
    "fastai",
    "infer_dl",
    "inference_tfm",
    "interp",
    "interpretation",
    "lightning",
    "list_models",
    "load_onnx",
    "mean_std",
    "model",
    "normalize_tfm",
    "onnx_postprocess",
    "param_groups",
    "predict",
    "predict_dl",
    "predict_from_dl",
    "set_img_size",
    "show_batch",
    "show_pred",
    "show_preds",
    "show_results",
    "train_dl",
    "valid_dl",
    "weights",
]

_ENGINES = ("fastai", "lightning")
#: weights/export.py imports this package's modules: its names are bound on first access
_EXPORT = ("export_onnx", "export_torchscript", "onnx_postprocess")


def __getattr__(name: str) -> Any:
    """Import the optional engine modules (``fastai``, ``lightning``) and the exporters
    (``export_onnx``...) on first access."""
    if name in _EXPORT:
        from ..weights import export

        globals().update({n: getattr(export, n) for n in _EXPORT})
        return globals()[name]
    if name in _ENGINES:
        module = importlib.import_module(f".{name}", __name__)
        globals()[name] = module
        return module
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


class _ModelType(types.ModuleType):
    """This package is IceVision's ``model_type``, which notebooks print: its repr names it
    without the file path of the machine it runs on."""

    def __repr__(self) -> str:
        return f"<module {self.__name__!r}>"


sys.modules[__name__].__class__ = _ModelType
