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

from . import parsers, tfms
from .bbox import BBox
from .class_map import BACKGROUND, ClassMap
from .dataset import Dataset
from .errors import (
    AdapterError,
    BatchError,
    CheckpointError,
    ClassMapError,
    ImageLoadError,
    InvalidBBoxError,
    ModelConfigError,
    ParseError,
    UnsupportedFormatError,
    WeightsError,
)
from .metrics import COCOMetric, COCOMetricType, Metric
from .predictions import Prediction
from .records import ImgSize, Record
from .splitters import DataSplitter, FixedSplitter, RandomSplitter, SingleSplitSplitter
from .visualize import show_records, show_samples

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
    "efficientdet",
    "parsers",
    "show_records",
    "show_samples",
    "tfms",
]

_LAZY_MODULES = ("efficientdet", "checkpoint", "demo", "writers", "cli")


def __getattr__(name: str) -> ModuleType:
    """Import the torch-heavy ``efficientdet`` subpackage (and a few tools) on first access."""
    if name in _LAZY_MODULES:
        module = importlib.import_module(f".{name}", __name__)
        globals()[name] = module
        return module
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
