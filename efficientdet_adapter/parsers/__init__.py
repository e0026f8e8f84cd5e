"""Parsers: annotation files on disk -> lists of [`Record`][efficientdet_adapter.records.Record].

IceVision users keep writing ``parsers.VOCBBoxParser(...)``, ``parsers.COCOBBoxParser(...)``.
"""

from ..splitters import DataSplitter, FixedSplitter, RandomSplitter, SingleSplitSplitter
from .base import AbortParseRecord, Parser, ParseReport
from .coco import COCOParser
from .coco_bbox import COCOBBoxParser
from .csv import CSVBBoxParser
from .roboflow import RoboflowParser
from .via import VIABaseParser, VIABBoxParser, VIAParseError, via
from .voc import VOCBBoxParser, VOCParser, voc
from .yolo import YOLOBBoxParser
from .yolo_data import YOLODataParser

__all__ = [
    "AbortParseRecord",
    "COCOBBoxParser",
    "COCOParser",
    "CSVBBoxParser",
    "DataSplitter",
    "FixedSplitter",
    "ParseReport",
    "Parser",
    "RandomSplitter",
    "RoboflowParser",
    "SingleSplitSplitter",
    "VIABBoxParser",
    "VIABaseParser",
    "VIAParseError",
    "VOCBBoxParser",
    "VOCParser",
    "YOLOBBoxParser",
    "YOLODataParser",
    "via",
    "voc",
]

#: IceVision 0.12's names of ``icevision.parsers`` that this library does not offer, and why.
NOT_OFFERED: dict[str, str] = {
    **dict.fromkeys(["COCOMaskParser", "VOCMaskParser"], "masks: EfficientDet detects boxes here"),
    **dict.fromkeys(["COCOKeyPointsParser", "COCOKeypointsMetadata"],
                    "keypoints: EfficientDet detects boxes here"),
    "COCOBaseParser": "an IceVision internal: subclass Parser, or use COCOBBoxParser",
    "ParserInterface": "subclass Parser (template_record, __iter__, record_id, parse_fields)",
}
