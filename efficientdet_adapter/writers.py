"""Writers: datasets and predictions to files, under the one name IceVision code imports.

The work is done in two modules with one job each, whose names this module re-exports:

* :mod:`.dataset_files`: records -> Roboflow-layout exports (:func:`write_export`,
  :func:`write_coco`, :func:`write_voc`, :func:`write_yolo`, :func:`write_csv`);
* :mod:`.prediction_files`: predictions -> COCO results, VOC XML, YOLO txt
  (:func:`write_coco_results`, :func:`write_voc_predictions`, :func:`write_yolo_predictions`) and
  IceVision's :func:`export_batch_inferences_as_coco_annotations`.

Example:
    >>> write_export({"train": train_records, "valid": valid_records}, "out", format="yolo")
    ... # doctest: +SKIP
    PosixPath('out')
"""

from __future__ import annotations

from . import dataset_files, prediction_files
from .dataset_files import (
    COCO_ANNOTATIONS_NAME,
    CSV_ANNOTATIONS_NAME,
    CSV_HEADER,
    EXPORT_FORMATS,
    image_dir,
    write_coco,
    write_csv,
    write_export,
    write_voc,
    write_yolo,
)
from .prediction_files import (
    export_batch_inferences_as_coco_annotations,
    write_coco_results,
    write_voc_predictions,
    write_yolo_predictions,
)

__all__ = [*dataset_files.__all__, *prediction_files.__all__]  # every name of both
