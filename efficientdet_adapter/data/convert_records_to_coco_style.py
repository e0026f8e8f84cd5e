"""IceVision's ``icevision.data.convert_records_to_coco_style``: predictions as COCO annotations.

``export_batch_inferences_as_coco_annotations`` (IceVision master) lives in
[`efficientdet_adapter.parsers.coco`][efficientdet_adapter.parsers.coco]. ``create_coco_eval`` gives
pycocotools' ``COCOeval``; IceVision 0.12's other COCO-API builders are not offered:
records become a COCO file with ``efficientdet_adapter.parsers.writers`` (``write_coco``), predictions
with ``write_coco_results``, and [`COCOMetric`][efficientdet_adapter.metrics.COCOMetric] evaluates.
"""

from __future__ import annotations

from efficientdet_adapter.base.faces import not_offered
from efficientdet_adapter.metrics.coco_metric.coco_metric import create_coco_eval
from efficientdet_adapter.parsers.coco import export_batch_inferences_as_coco_annotations

__all__ = ["export_batch_inferences_as_coco_annotations", "create_coco_eval"]

_COCO = ("IceVision's COCO-API builders: efficientdet_adapter.parsers.writers.write_coco (records), "
         "write_coco_results (predictions); COCOMetric evaluates with pycocotools")
NOT_OFFERED: dict[str, str] = dict.fromkeys(
    ["create_coco_api", "convert_records_to_coco_style", "convert_preds_to_coco_style",
     "convert_record_to_coco_annotations", "coco_api_from_records", "coco_api_from_preds"],
    _COCO)
__getattr__ = not_offered(__name__, NOT_OFFERED)
