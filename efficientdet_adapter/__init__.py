"""efficientdet_adapter: train EfficientDet detectors with IceVision's API on today's stack.

The data flow, one module per step::

    parsers (VOC, COCO, YOLO, TF CSV, Roboflow) -> Record + ClassMap
      -> tfms.A + Dataset -> efficientdet.train_dl / valid_dl / infer_dl
      -> efficientdet.model -> efficientdet.fastai.learner | efficientdet.lightning.ModelAdapter
      -> COCOMetric -> efficientdet.predict / show_results / save_checkpoint / export_onnx

``efficientdet`` (which imports torch, timm and effdet) loads on first use:
``from efficientdet_adapter import efficientdet``.

Example:
    >>> from efficientdet_adapter import ClassMap, Dataset, parsers, tfms
"""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import TYPE_CHECKING, Any

from efficientdet_adapter.base import moved as _moved

_moved.install()  # the old module paths (before the folders became layers) keep working

from efficientdet_adapter import parsers  # noqa: E402
from efficientdet_adapter.parsers import Parser  # noqa: E402
from efficientdet_adapter.records.bbox import BBox
from efficientdet_adapter.records.class_map import BACKGROUND, ClassMap
from efficientdet_adapter.base.errors import (
    AdapterError,
    ArgumentError,
    OptionError,
    BatchError,
    CheckpointError,
    ClassMapError,
    ExportError,
    ImageLoadError,
    InvalidBBoxError,
    ModelConfigError,
    NotAModelError,
    ParseError,
    PathExistsError,
    PathNotFoundError,
    RunLockedError,
    SaveError,
    TrainingError,
    UnsupportedFormatError,
    UsageError,
    WeightsError,
)
from efficientdet_adapter._icevision_names import ICEVISION_STAR
from efficientdet_adapter.records.predictions import Prediction
from efficientdet_adapter.records.record import ImgSize, Record
from efficientdet_adapter.records.splitters import DataSplitter, FixedSplitter, RandomSplitter, SingleSplitSplitter

if TYPE_CHECKING:  # the names below load on first use: see _LAZY
    from efficientdet_adapter import checkpoint, efficientdet, tfms
    from efficientdet_adapter.app import cli, demo
    from efficientdet_adapter.parsers import writers
    from efficientdet_adapter.checkpoint import convert_checkpoint, load_model, model_from_checkpoint, save_checkpoint
    from efficientdet_adapter.records.dataset import Dataset
    from efficientdet_adapter.metrics import COCOMetric, COCOMetricType, Metric
    from efficientdet_adapter.compat import (
        IDMap,
        ObjectDetectionRecord,
        denormalize_imagenet,
        get_image_files,
        get_img_size,
        normalize_imagenet,
    )
    from efficientdet_adapter.inference.prediction import show_pred, show_preds
    from efficientdet_adapter.inference.single_image import end2end_detect
    from efficientdet_adapter.pictures.draw import (
        draw_record,
        get_default_font,
        show_record,
        show_records,
        show_sample,
        show_samples,
    )

__version__ = "0.1.0"

__all__ = [
    "AdapterError",
    "BACKGROUND",
    "BBox",
    "BatchError",
    "COCOMetric",
    "COCOMetricType",
    "CheckpointError",
    "ClassMap",
    "ClassMapError",
    "ExportError",
    "DataSplitter",
    "Dataset",
    "FixedSplitter",
    "ImageLoadError",
    "ImgSize",
    "InvalidBBoxError",
    "Metric",
    "ModelConfigError",
    "ParseError",
    "Prediction",
    "RandomSplitter",
    "Record",
    "SingleSplitSplitter",
    "UnsupportedFormatError",
    "WeightsError",
    "convert_checkpoint",
    "IDMap",
    "ObjectDetectionRecord",
    "Parser",
    "denormalize_imagenet",
    "draw_record",
    "efficientdet",
    "end2end_detect",
    "get_default_font",
    "get_image_files",
    "get_img_size",
    "load_model",
    "model_from_checkpoint",
    "models",
    "normalize_imagenet",
    "parsers",
    "save_checkpoint",
    "save_icevision_checkpoint",
    "show_pred",
    "show_preds",
    "show_record",
    "show_records",
    "show_sample",
    "show_samples",
    "tfms",
    "wandb_img_preds",
    "ArgumentError",
    "OptionError",
    "NotAModelError",
    "PathExistsError",
    "PathNotFoundError",
    "RunLockedError",
    "SaveError",
    "TrainingError",
    "UsageError",
]

# IceVision's package-wide star import also brought the names of its utils, core, data, metrics
# and visualize packages; they come from IceVision's paths here (the faces), on first access.
__all__ += list(ICEVISION_STAR)

# Names that pull in torch, albumentations, pycocotools or matplotlib load on first use, so that
# ``import efficientdet_adapter.parsers`` stays light (a COCO parse at train2017 scale then peaks
# at about 0.9 GB instead of 1.7 GB). name -> (module, attribute or None for the module itself).
_LAZY: dict[str, tuple[str, str | None]] = {
    "efficientdet": (".efficientdet", None),
    "tfms": (".tfms", None),
    "checkpoint": (".checkpoint", None),
    "demo": (".app.demo", None),
    "writers": (".parsers.writers", None),
    "cli": (".app.cli", None),
    "Dataset": (".records.dataset", "Dataset"),
    "COCOMetric": (".metrics", "COCOMetric"),
    "COCOMetricType": (".metrics", "COCOMetricType"),
    "Metric": (".metrics", "Metric"),
    "show_records": (".pictures.draw", "show_records"),
    "show_samples": (".pictures.draw", "show_samples"),
    "show_record": (".pictures.draw", "show_record"),
    "show_sample": (".pictures.draw", "show_sample"),
    "draw_record": (".pictures.draw", "draw_record"),
    "get_default_font": (".pictures.draw", "get_default_font"),
    "show_pred": (".inference.prediction", "show_pred"),
    "show_preds": (".inference.prediction", "show_preds"),
    "end2end_detect": (".inference.single_image", "end2end_detect"),
    "models": (".models", None),
    "save_icevision_checkpoint": (".model.icevision", "save_icevision_checkpoint"),
    "wandb_img_preds": (".training.integrations", "wandb_img_preds"),
    "IDMap": (".compat", "IDMap"),
    "ObjectDetectionRecord": (".compat", "ObjectDetectionRecord"),
    "denormalize_imagenet": (".compat", "denormalize_imagenet"),
    "normalize_imagenet": (".compat", "normalize_imagenet"),
    "get_image_files": (".compat", "get_image_files"),
    "get_img_size": (".compat", "get_img_size"),
    "save_checkpoint": (".checkpoint", "save_checkpoint"),
    "model_from_checkpoint": (".checkpoint", "model_from_checkpoint"),
    "load_model": (".checkpoint", "load_model"),
    "convert_checkpoint": (".checkpoint", "convert_checkpoint"),
}


def __getattr__(name: str) -> Any:
    """Import the heavy parts of the public surface (see ``_LAZY``) on first access."""
    if name in ICEVISION_STAR:
        module_name, attribute = f".{ICEVISION_STAR[name]}", name
    else:
        try:
            module_name, attribute = _LAZY[name]
        except KeyError:
            raise AttributeError(f"module {__name__!r} has no attribute {name!r}") from None
    module = importlib.import_module(module_name, __name__)
    value: ModuleType | Any = module if attribute is None else getattr(module, attribute)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY) | set(ICEVISION_STAR))
