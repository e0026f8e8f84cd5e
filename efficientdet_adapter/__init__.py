"""efficientdet_adapter: train EfficientDet detectors with IceVision's API on today's stack."""

from .bbox import BBox
from .class_map import BACKGROUND, ClassMap
from .errors import (
    AdapterError,
    BatchError,
    CheckpointError,
    ClassMapError,
    ImageLoadError,
    InvalidBBoxError,
    ParseError,
    UnsupportedFormatError,
    WeightsError,
)
from .predictions import Prediction
from .records import ImgSize, Record

__version__ = "0.1.0"

__all__ = [
    "AdapterError",
    "BACKGROUND",
    "BBox",
    "BatchError",
    "CheckpointError",
    "ClassMap",
    "ClassMapError",
    "ImageLoadError",
    "ImgSize",
    "InvalidBBoxError",
    "ParseError",
    "Prediction",
    "Record",
    "UnsupportedFormatError",
    "WeightsError",
]
