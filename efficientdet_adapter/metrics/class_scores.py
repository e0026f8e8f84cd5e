"""Per-class AP and AP50: the lines ``train`` ends with and ``eval`` prints.

A summary AP hides which class the model misses; this reads both numbers per class from
pycocotools' ``precision`` array (``[IoU threshold, recall, class, area, maxDets]``), averaged the
way ``COCOeval.summarize`` averages them (-1 entries left out), on the same COCO inputs as
[`COCOMetric`][efficientdet_adapter.metrics.COCOMetric]. A class without any ground-truth box in the
scored images has no defined AP: it reads ``-1`` and the table says "no boxes".

Example:
    >>> scores = class_scores(preds)                    # doctest: +SKIP
    >>> print(class_table(scores))                      # doctest: +SKIP
    per class (COCO AP averaged over IoU 0.50:0.95, and AP at IoU 0.50):
      class      boxes      AP    AP50
      pothole      512  0.2100  0.5050
"""

from __future__ import annotations

import contextlib
import io
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from efficientdet_adapter.metrics import (COCO_IOU_THRESHOLDS, coco_inputs, image_item, mean_valid, ordered_by_image,
                      run_cocoeval)
from efficientdet_adapter.records.predictions import Prediction
from efficientdet_adapter.base.terminal import printable

__all__ = ["ClassScore", "class_scores", "class_table"]


@dataclass(frozen=True)
class ClassScore:
    """One class's scores on a set of images.

    Attributes:
        name: the class name (the label id as text when the predictions have no class map).
        boxes: its ground-truth boxes in the scored images.
        ap: COCO AP averaged over IoU 0.50:0.95 (-1: undefined, the class has no box here).
        ap50: AP at IoU 0.50 (-1 likewise).
    """

    name: str
    boxes: int
    ap: float
    ap50: float


def class_scores(preds: Sequence[Prediction]) -> list[ClassScore]:
    """AP and AP50 of every class, in class-id order (the class map's foreground classes and every
    label id seen), computed by pycocotools on the predictions and their ground truth.

    Raises:
        ValueError: a prediction without its ground truth (as
            [`COCOMetric`][efficientdet_adapter.metrics.COCOMetric] does).
    """
    items = [image_item(p) for p in preds]
    class_map = next((p.class_map for p in preds if p.class_map is not None), None)
    inputs = coco_inputs(ordered_by_image(items), class_map)
    with contextlib.redirect_stdout(io.StringIO()):  # pycocotools prints its progress
        coco_eval = run_cocoeval(inputs, COCO_IOU_THRESHOLDS, "bbox")
    precision = coco_eval.eval.get("precision") if coco_eval.eval else None
    at50 = np.isclose(COCO_IOU_THRESHOLDS, 0.5, rtol=0, atol=1e-9)
    counts = Counter(int(a["category_id"]) for a in inputs.gt_anns if not a["iscrowd"])
    out = []
    for k, cat_id in enumerate(inputs.cat_ids):
        known = class_map is not None and 0 <= cat_id < len(class_map)
        name = class_map.get_by_id(cat_id) if known else str(cat_id)
        if precision is None:
            ap = ap50 = -1.0
        else:  # area "all" (index 0), the largest maxDets (index -1), as summarize() does
            ap = mean_valid(precision[:, :, k, 0, -1])
            ap50 = mean_valid(precision[at50, :, k, 0, -1])
        out.append(ClassScore(name=str(name), boxes=counts.get(cat_id, 0), ap=ap, ap50=ap50))
    return out


def class_table(scores: Sequence[ClassScore], title: str | None = None) -> str:
    """``scores`` as an aligned text table, one class a line (``-`` where a class has no box).

    Example:
        >>> print(class_table([ClassScore("cat", 3, 0.5, 0.75), ClassScore("dog", 0, -1, -1)]))
        per class (COCO AP averaged over IoU 0.50:0.95, and AP at IoU 0.50):
          class  boxes      AP    AP50
          cat        3  0.5000  0.7500
          dog        0       -       -  (no boxes: undefined)
    """
    title = title or "per class (COCO AP averaged over IoU 0.50:0.95, and AP at IoU 0.50):"
    names = [printable(s.name) for s in scores]  # a name from a file must not drive the terminal
    width = max([len("class"), *map(len, names)])
    lines = [title, f"  {'class':<{width}}  boxes      AP    AP50"]
    for name, s in zip(names, scores):
        if s.boxes == 0 and s.ap < 0:
            lines.append(f"  {name:<{width}}  {s.boxes:5d}  {'-':>6}  {'-':>6}  "
                         "(no boxes: undefined)")
        else:
            lines.append(f"  {name:<{width}}  {s.boxes:5d}  {s.ap:6.4f}  {s.ap50:6.4f}")
    return "\n".join(lines)
