"""Parsers: annotation files on disk -> lists of [`Record`][efficientdet_adapter.records.Record].

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

#: IceVision 0.12's names of ``icevision.parsers`` that this library does not offer, and why.
NOT_OFFERED: dict[str, str] = {
    **dict.fromkeys(["COCOMaskParser", "VOCMaskParser"], "masks: EfficientDet detects boxes here"),
    **dict.fromkeys(["COCOKeyPointsParser", "COCOKeypointsMetadata"],
                    "keypoints: EfficientDet detects boxes here"),
    **dict.fromkeys(["VIABBoxParser", "VIABaseParser", "VIAParseError", "via"],
                    "the VIA parser: use COCOBBoxParser, VOCBBoxParser, CSVBBoxParser, "
                    "YOLOBBoxParser or RoboflowParser (or a custom Parser)"),
    "COCOBaseParser": "an IceVision internal: subclass Parser, or use COCOBBoxParser",
    "ParserInterface": "subclass Parser (template_record, __iter__, record_id, parse_fields)",
}
