"""Parsers: annotation files on disk -> lists of :class:`~efficientdet_adapter.records.Record`.

IceVision users keep writing ``parsers.VOCBBoxParser(...)``, ``parsers.COCOBBoxParser(...)``.
"""

from ..splitters import DataSplitter, FixedSplitter, RandomSplitter, SingleSplitSplitter
from .base import AbortParseRecord, Parser, ParseReport
from .coco import COCOBBoxParser
from .csv import CSVBBoxParser
from .roboflow import RoboflowParser
from .voc import VOCBBoxParser, voc
from .yolo import YOLOBBoxParser

__all__ = [
    "AbortParseRecord",
    "COCOBBoxParser",
    "CSVBBoxParser",
    "DataSplitter",
    "FixedSplitter",
    "ParseReport",
    "Parser",
    "RandomSplitter",
    "RoboflowParser",
    "SingleSplitSplitter",
    "VOCBBoxParser",
    "YOLOBBoxParser",
    "voc",
]
