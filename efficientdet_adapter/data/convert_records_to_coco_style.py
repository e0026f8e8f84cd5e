"""IceVision's ``data.convert_records_to_coco_style``: predictions as COCO annotations.

The function lives in :mod:`efficientdet_adapter.writers`.
"""

from ..writers import export_batch_inferences_as_coco_annotations

__all__ = ["export_batch_inferences_as_coco_annotations"]
