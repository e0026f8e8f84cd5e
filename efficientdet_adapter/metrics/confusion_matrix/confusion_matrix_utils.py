"""IceVision 0.12's ``icevision.metrics.confusion_matrix.confusion_matrix_utils``: the IoU
table and the matching of a prediction record with its ground truth."""

from __future__ import annotations

from typing import Any

import torch

from efficientdet_adapter.records.bbox import BBox
from efficientdet_adapter.records.components import ComponentRecord as BaseRecord

__all__ = ["BBox", "BaseRecord", "pairwise_iou_record_record", "match_records",
           "get_best_score_item"]


def _boxes(record: Any) -> torch.Tensor:
    boxes = [b.xyxy for b in record.bboxes]
    return torch.tensor(boxes, dtype=torch.float).reshape(-1, 4)


def pairwise_iou_record_record(target: Any, prediction: Any) -> torch.Tensor:
    """IoU of each predicted box (rows) with each target box (columns)."""
    from torchvision.ops import box_iou  # noqa: PLC0415

    return box_iou(_boxes(prediction), _boxes(target))


def match_records(target: Any, prediction: Any, iou_threshold: float = 0.5) -> list[list]:
    """For each target box, ``[target dict, [prediction dicts with IoU > iou_threshold]]``;
    each prediction dict has its box, label, label id, score and ``iou_score`` (4 decimals)."""
    iou = pairwise_iou_record_record(target=target, prediction=prediction)
    targets = [[{"target_bbox": box, "target_label": label, "target_label_id": label_id}, []]
               for box, label, label_id in zip(target.bboxes, target.labels, target.label_ids)]
    scores = getattr(prediction, "scores", None) or [None] * len(prediction.bboxes)
    preds = [{"predicted_bbox": box, "predicted_label": label, "predicted_label_id": label_id,
              "score": score}
             for box, label, label_id, score in zip(prediction.bboxes, prediction.labels,
                                                    prediction.label_ids, scores)]
    for pred_index, target_index in torch.nonzero(iou > iou_threshold).tolist():
        match = dict(preds[pred_index], iou_score=round(iou[pred_index, target_index].item(), 4))
        targets[target_index][1].append(match)
    return targets


def get_best_score_item(prediction_items: list[dict[str, Any]]) -> dict[str, Any]:
    """The prediction dict with the highest ``score``."""
    return max(prediction_items, key=lambda item: item["score"])
