"""Parsers: annotation files on disk -> lists of :class:`~efficientdet_adapter.records.Record`.

IceVision users keep writing ``parsers.VOCBBoxParser(...)``, ``parsers.COCOBBoxParser(...)``.
"""

from ..splitters import DataSplitter, FixedSplitter, RandomSplitter, SingleSplitSplitter
from .base import AbortParseRecord, Parser, ParseReport
from .coco import COCOBBoxParser
from .voc import VOCBBoxParser

__all__ = [
    "AbortParseRecord",
    "COCOBBoxParser",
    "DataSplitter",
    "FixedSplitter",
    "ParseReport",
    "Parser",
    "RandomSplitter",
    "SingleSplitSplitter",
    "VOCBBoxParser",
]
