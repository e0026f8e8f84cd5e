"""IceVision's ``data.convert_records_to_coco_style``: predictions as COCO annotations.

The function lives in :mod:`efficientdet_adapter.prediction_files` (also offered by
:mod:`efficientdet_adapter.writers`).
"""

from ..prediction_files import export_batch_inferences_as_coco_annotations

__all__ = ["export_batch_inferences_as_coco_annotations"]
