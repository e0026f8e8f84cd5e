"""EfficientDet through IceVision's verbs: ``efficientdet.model``, ``train_dl``, ``predict``, ...

``efficientdet.fastai`` and ``efficientdet.lightning`` are imported on first use, so that the
core works without those optional packages installed.
"""

from __future__ import annotations

import importlib
from types import ModuleType

# --- re-exports: one line per module, added by the module's owner -------------------------
from . import backbones, weights  # noqa: E402  (IceVision's efficientdet.backbones.tf_lite0())
from .model import EfficientDetModel, ModelConfig, ModelConfigError, anchor_labeler, list_models, mean_std, model, normalize_tfm, param_groups  # noqa: E501
from .dataloaders import build_infer_batch, build_train_batch, build_valid_batch, infer_dl, show_batch, train_dl, valid_dl  # noqa: E501
from .prediction import annotate, end2end_detect, inference_tfm, predict, predict_from_dl, show_preds, show_results  # noqa: E501
from .export import export_onnx, export_torchscript, onnx_postprocess  # noqa: E501
# (end of re-exports)

_ENGINES = ("fastai", "lightning")


def __getattr__(name: str) -> ModuleType:
    """Import the optional engine modules (``fastai``, ``lightning``) on first access."""
    if name in _ENGINES:
        module = importlib.import_module(f".{name}", __name__)
        globals()[name] = module
        return module
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
