"""EfficientDet through IceVision's verbs: ``efficientdet.model``, ``train_dl``, ``predict``, ...

``efficientdet.fastai`` and ``efficientdet.lightning`` are imported on first use, so that the
core works without those optional packages installed.
"""

from __future__ import annotations

import importlib
import sys
import types
from typing import Any

from efficientdet_adapter.base.moved import MOVED
from efficientdet_adapter.base.version_compat import import_effdet_quietly

import_effdet_quietly()  # before the modules below import effdet

from efficientdet_adapter import weights  # the weights package (table, hub, reader, loading)
from efficientdet_adapter.model import backbones  # IceVision's efficientdet.backbones.tf_lite0()
from efficientdet_adapter.inference import interpretation
from efficientdet_adapter.inference import interpretation as interp  # IceVision's efficientdet.interp.plot_top_losses
from efficientdet_adapter.loop.dataloaders import (
    build_infer_batch,
    build_train_batch,
    build_valid_batch,
    infer_dl,
    show_batch,
    train_dl,
    valid_dl,
)
from efficientdet_adapter.model.onnx_model import OnnxModel, load_onnx
from efficientdet_adapter.model.resize import set_img_size
from efficientdet_adapter.model.runtime import Accelerated, accelerate
from efficientdet_adapter.model.model import (
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
from efficientdet_adapter.inference.icevision_dl import predict_dl
from efficientdet_adapter.inference.single_image import detect_image, end2end_detect
from efficientdet_adapter.inference.prediction import (
    inference_tfm,
    predict,
    predict_from_dl,
    show_results,
)
from efficientdet_adapter.pictures.show import annotate, show_pred, show_preds

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
#: the exporters (checkpoints/export.py, which pulls in torch.onnx): bound on first access
_EXPORT = ("export_onnx", "export_torchscript", "onnx_postprocess")


def __getattr__(name: str) -> Any:
    """Import the optional engine modules (``fastai``, ``lightning``) and the exporters
    (``export_onnx``...) on first access."""
    if name in _EXPORT:
        from efficientdet_adapter.checkpoints import export  # noqa: PLC0415

        globals().update({n: getattr(export, n) for n in _EXPORT})
        return globals()[name]
    if name in _ENGINES:
        module = importlib.import_module(f".{name}", __name__)
        globals()[name] = module
        return module
    if f"efficientdet.{name}" in MOVED:  # a module that lived here (efficientdet.prediction...)
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


class _ModelType(types.ModuleType):
    """This package is IceVision's ``model_type``, which notebooks print: its repr names it
    without the file path of the machine it runs on."""

    def __repr__(self) -> str:
        return f"<module {self.__name__!r}>"


sys.modules[__name__].__class__ = _ModelType

# The modules that lived in this folder (efficientdet.model, .prediction, ...), under their old
# names: registered now, so that importing an old path cannot rebind this package's attribute of
# the same name (``efficientdet.model`` stays the function).
for _old, _new in MOVED.items():
    if _old.startswith("efficientdet.") and f"efficientdet_adapter.{_new}" in sys.modules:
        sys.modules.setdefault(f"efficientdet_adapter.{_old}", sys.modules[f"efficientdet_adapter.{_new}"])
