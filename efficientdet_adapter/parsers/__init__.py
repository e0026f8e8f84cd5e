"""Parsers: annotation files on disk -> lists of [`Record`][efficientdet_adapter.records.record.Record].

IceVision users keep writing ``parsers.VOCBBoxParser(...)``, ``parsers.COCOBBoxParser(...)``.
"""

from efficientdet_adapter.records.splitters import DataSplitter, FixedSplitter, RandomSplitter, SingleSplitSplitter
from efficientdet_adapter.parsers.base import AbortParseRecord, Parser, ParseReport
from efficientdet_adapter.parsers.coco import COCOParser
from efficientdet_adapter.parsers.coco_bbox import COCOBBoxParser
from efficientdet_adapter.parsers.csv import CSVBBoxParser
from efficientdet_adapter.parsers.roboflow import RoboflowParser
from efficientdet_adapter.parsers.via import VIABaseParser, VIABBoxParser, VIAParseError, via
from efficientdet_adapter.parsers.voc import VOCBBoxParser, VOCParser, voc
from efficientdet_adapter.parsers.yolo import YOLOBBoxParser
from efficientdet_adapter.parsers.yolo_data import YOLODataParser

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
