"""IceVision 0.12's ``icevision.metrics.confusion_matrix.confusion_matrix_utils``."""

from __future__ import annotations

from ..._faces import CONFUSION, not_offered
from ...bbox import BBox
from ...records import Record as BaseRecord

__all__ = ["BBox", "BaseRecord"]

NOT_OFFERED: dict[str, str] = {
    **dict.fromkeys(['get_best_score_item', 'match_records', 'pairwise_iou_record_record'], CONFUSION),
}
__getattr__ = not_offered(__name__, NOT_OFFERED)
