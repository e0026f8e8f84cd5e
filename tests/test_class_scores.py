"""Per-class AP and AP50 from pycocotools' precision array, on boxes whose answer is known."""

from __future__ import annotations

import pytest

from efficientdet_adapter.metrics.class_scores import ClassScore, class_scores, class_table
from efficientdet_adapter.metrics import COCOMetric

from test_metrics import make_pred, random_preds


def test_known_boxes_give_known_scores():
    preds = [
        # cat: found exactly (IoU 1); dog: found at IoU 0.62 (matches at 0.50, 0.55, 0.60 only)
        make_pred(0, [[0, 0, 100, 100], [200, 200, 300, 300]], [1, 2],
                  [[0, 0, 100, 100], [200, 200, 300, 262]], [0.9, 0.8], [1, 2]),
        # a second cat, missed; a bird detection with no bird in the ground truth
        make_pred(1, [[10, 10, 60, 60]], [1], [[400, 400, 450, 450]], [0.7], [3]),
    ]
    scores = {s.name: s for s in class_scores(preds)}
    assert list(scores) == ["cat", "dog", "bird"]
    assert scores["cat"].boxes == 2 and scores["cat"].ap50 == pytest.approx(0.5, abs=0.01)
    assert scores["cat"].ap == pytest.approx(0.5, abs=0.01)
    assert scores["dog"] == ClassScore("dog", 1, pytest.approx(0.3), pytest.approx(1.0))
    assert scores["bird"] == ClassScore("bird", 0, -1.0, -1.0)


def test_ap_agrees_with_coco_metric_per_class_keys():
    preds = random_preds(3, num_images=25)
    metric = COCOMetric()
    metric.accumulate(preds)
    logs = metric.finalize()
    for s in class_scores(preds):
        assert s.ap == pytest.approx(logs[metric.class_key(s.name)])
    # AP50 of all classes together averages the classes' AP50 (pycocotools' summary rule)
    defined = [s.ap50 for s in class_scores(preds) if s.ap50 > -1]
    assert sum(defined) / len(defined) == pytest.approx(logs["AP (IoU=0.50) area=all"])


def test_table_lines():
    text = class_table([ClassScore("pothole", 12, 0.25, 0.5), ClassScore("x", 0, -1.0, -1.0)],
                       title="t:")
    assert text.splitlines() == [
        "t:",
        "  class    boxes      AP    AP50",
        "  pothole     12  0.2500  0.5000",
        "  x            0       -       -  (no boxes: undefined)",
    ]
