"""IceVision 0.12's ``icevision.data``: datasets, splitters, record collections, predictions."""

from __future__ import annotations

from efficientdet_adapter.base.faces import INTERNAL, gather, merged_not_offered, not_offered
from efficientdet_adapter.data import (
    convert_records_to_coco_style,
    convert_records_to_fo,
    data_splitter,
    dataset,
    prediction,
    record_collection,
)

__all__ = gather(globals(), convert_records_to_coco_style, data_splitter, dataset, prediction,
                 record_collection)
NOT_OFFERED: dict[str, str] = {
    **merged_not_offered(convert_records_to_coco_style),
    "SoftDependencies": INTERNAL,
}
__getattr__ = not_offered(__name__, NOT_OFFERED)
# IceVision's `data.convert_records_to_coco_style` was its function, not the module: the name
# says why it is not offered (the module imports by its path as before).
del convert_records_to_coco_style
