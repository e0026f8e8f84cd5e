"""Writers: datasets and predictions to files, under the one name IceVision code imports.

Each format module writes its own files (next to its parser); this module gathers their writers:

* datasets, as Roboflow-layout exports:
  [`write_export`][efficientdet_adapter.parsers.roboflow.write_export] (dispatching on ``format``,
  one of
  `EXPORT_FORMATS`), [`write_coco`][efficientdet_adapter.parsers.coco.write_coco],
  [`write_voc`][efficientdet_adapter.parsers.voc.write_voc],
  [`write_yolo`][efficientdet_adapter.parsers.yolo.write_yolo],
  [`write_csv`][efficientdet_adapter.parsers.csv.write_csv];
* predictions: [`write_coco_results`][efficientdet_adapter.parsers.coco.write_coco_results] (COCO
  results; [`coco_results`][efficientdet_adapter.parsers.coco.coco_results] gives one image's
  rows), [`write_voc_predictions`][efficientdet_adapter.parsers.voc.write_voc_predictions] (VOC
  XML), [`write_yolo_predictions`][efficientdet_adapter.parsers.yolo.write_yolo_predictions] (YOLO
  txt) and IceVision's
  [`export_batch_inferences_as_coco_annotations`][efficientdet_adapter.parsers.coco.export_batch_inferences_as_coco_annotations].

The file names, the CSV header and the list of formats live in
[`efficientdet_adapter.parsers.formats`][efficientdet_adapter.parsers.formats].

Example:
    >>> write_export({"train": train_records, "valid": valid_records}, "out", format="yolo")
    ... # doctest: +SKIP
    PosixPath('out')
"""

from __future__ import annotations

from efficientdet_adapter.parsers.coco import (
    coco_results,
    export_batch_inferences_as_coco_annotations,
    write_coco,
    write_coco_results,
)
from efficientdet_adapter.parsers.csv import write_csv
from efficientdet_adapter.parsers.formats import (
    COCO_ANNOTATIONS_NAME,
    CSV_ANNOTATIONS_NAME,
    CSV_HEADER,
    image_dir,
)
from efficientdet_adapter.parsers.formats import FORMATS as EXPORT_FORMATS
from efficientdet_adapter.parsers.roboflow import write_export
from efficientdet_adapter.parsers.voc import write_voc, write_voc_predictions
from efficientdet_adapter.parsers.yolo import write_yolo, write_yolo_predictions

__all__ = [
    "EXPORT_FORMATS",
    "CSV_HEADER",
    "COCO_ANNOTATIONS_NAME",
    "CSV_ANNOTATIONS_NAME",
    "image_dir",
    "write_export",
    "write_coco",
    "write_voc",
    "write_yolo",
    "write_csv",
    "write_coco_results",
    "coco_results",
    "write_voc_predictions",
    "write_yolo_predictions",
    "export_batch_inferences_as_coco_annotations",
]
