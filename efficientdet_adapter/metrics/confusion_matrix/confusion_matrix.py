"""IceVision 0.12's ``icevision.metrics.confusion_matrix.confusion_matrix``: ``SimpleConfusionMatrix``.

A metric for ``metrics=[...]`` beside ``COCOMetric``: it matches each kept prediction to the
ground-truth box of highest IoU (at least ``groundtruth_iou_threshold``), counts
``(true class, predicted class)`` pairs, with row/column 0 for "background" (a missed box, or a
prediction that matches no box), and, as IceVision's, finalizes to a placeholder value for fastai
(the matrix itself is in ``confusion_matrix`` and `plot` draws it).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from efficientdet_adapter.metrics import Metric

__all__ = ["SimpleConfusionMatrix"]


def _iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU of each box of ``a`` (N, 4 xyxy) with each of ``b`` (M, 4)."""
    lt = np.maximum(a[:, None, :2], b[None, :, :2])
    rb = np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = np.clip(rb - lt, 0, None).prod(-1)
    area = lambda x: (x[:, 2] - x[:, 0]) * (x[:, 3] - x[:, 1])  # noqa: E731
    return inter / np.maximum(area(a)[:, None] + area(b)[None, :] - inter, 1e-9)


class SimpleConfusionMatrix(Metric):
    """Counts of ``(true class id, predicted class id)``; id 0 is background."""

    def __init__(self, groundtruth_iou_threshold: float = 0.5, print_summary: bool = False):
        self.groundtruth_iou_threshold = groundtruth_iou_threshold
        self.print_summary = print_summary
        self.reset()

    def reset(self) -> None:
        self.pairs: list[tuple[int, int]] = []
        self.class_map = None
        self.confusion_matrix: np.ndarray | None = None

    def accumulate(self, preds: Sequence[Any]) -> None:
        for pred in preds:
            truth = pred.ground_truth
            self.class_map = self.class_map or truth.class_map or pred.class_map
            gt = np.array([b.xyxy for b in truth.bboxes], dtype=float).reshape(-1, 4)
            gt_ids = list(truth.label_ids)
            boxes = np.asarray(pred.kept_boxes, dtype=float).reshape(-1, 4)
            ids = list(pred.kept_label_ids)
            matched: set[int] = set()
            if len(gt) and len(boxes):
                iou = _iou(boxes, gt)
                for i in np.argsort(-np.asarray(pred.kept_scores)):
                    j = int(iou[i].argmax())
                    if iou[i, j] >= self.groundtruth_iou_threshold and j not in matched:
                        matched.add(j)
                        self.pairs.append((gt_ids[j], int(ids[i])))
                    else:
                        self.pairs.append((0, int(ids[i])))
            else:
                self.pairs.extend((0, int(i)) for i in ids)
            self.pairs.extend((gt_ids[j], 0) for j in range(len(gt)) if j not in matched)

    def finalize(self) -> dict[str, float]:
        n = 1 + max([max(p) for p in self.pairs] + [len(self.class_map) - 1 if self.class_map else 0])
        matrix = np.zeros((n, n), dtype=int)
        for true, predicted in self.pairs:
            matrix[true, predicted] += 1
        self.confusion_matrix = matrix
        if self.print_summary:
            print(matrix)
        self.pairs = []
        return {"dummy_value_for_fastai": -1}

    def plot(self, **kwargs: Any):
        """The last finalized matrix as a matplotlib figure."""
        import matplotlib.pyplot as plt  # noqa: PLC0415

        fig, ax = plt.subplots(figsize=kwargs.get("figsize", (6, 6)))
        ax.imshow(self.confusion_matrix, cmap="Blues")
        ax.set_xlabel("predicted")
        ax.set_ylabel("true")
        return fig
