"""ClassMap, BBox, Record and Prediction: the data model everything else speaks."""

from __future__ import annotations

import numpy as np
import pytest

from efficientdet_adapter import BBox, ClassMap, ClassMapError, InvalidBBoxError, Prediction, Record


def test_class_map_background_and_lookup():
    cm = ClassMap(["cat", "dog"])
    assert len(cm) == 3
    assert cm.get_by_id(0) == "background" and cm.get_by_name("dog") == 2
    assert list(cm) == ["background", "cat", "dog"] and cm.foreground == ["cat", "dog"]
    assert cm.add_name("bird") == 3 and len(cm) == 4


def test_class_map_without_background():
    cm = ClassMap(["cat", "dog"], background=None)
    assert len(cm) == 2 and cm.get_by_name("cat") == 0


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda cm: cm.add_name("cat"), "already in the class map with id 1"),
        (lambda cm: cm.get_by_name("cow"), "'cow' is not in the class map"),
        (lambda cm: cm.get_by_id(7), "label id 7 is not in the class map"),
    ],
)
def test_class_map_errors(call, message):
    with pytest.raises(ClassMapError, match=message):
        call(ClassMap(["cat", "dog"]))


def test_class_map_json_round_trip_and_equality():
    cm = ClassMap(["b", "a"], background="bg")
    again = ClassMap.from_json(cm.to_json())
    assert again == cm and again.get_by_name("a") == 2
    assert ClassMap(["a", "b"]) != ClassMap(["b", "a"])
    assert ClassMap.from_names(["z", "a", "z"]).get_classes() == ["background", "a", "z"]


@pytest.mark.parametrize(
    "box, xyxy, yxyx, xywh, area",
    [
        (BBox.from_xyxy(1, 2, 11, 22), (1, 2, 11, 22), (2, 1, 22, 11), (1, 2, 10, 20), 200),
        (BBox.from_xywh(5, 5, 10, 4), (5, 5, 15, 9), (5, 5, 9, 15), (5, 5, 10, 4), 40),
        (BBox.from_relative_xcycwh(0.5, 0.5, 0.5, 0.25, 200, 100), (50, 37.5, 150, 62.5),
         (37.5, 50, 62.5, 150), (50, 37.5, 100, 25), 2500),
    ],
)
def test_bbox_formats(box, xyxy, yxyx, xywh, area):
    assert box.xyxy == pytest.approx(xyxy) and box.yxyx == pytest.approx(yxyx)
    assert box.xywh == pytest.approx(xywh) and box.area == pytest.approx(area)


def test_bbox_relative_round_trip():
    box = BBox.from_xyxy(10, 20, 50, 80)
    assert BBox.from_relative_xcycwh(*box.relative_xcycwh(640, 480), 640, 480).xyxy == pytest.approx(box.xyxy)


def test_bbox_autofix_clips_and_rejects_collapsed():
    assert BBox.from_xyxy(-5, 10, 120, 90).autofix(100, 80).xyxy == (0, 10, 100, 80)
    with pytest.raises(InvalidBBoxError, match="no area inside the 100x80 image"):
        BBox.from_xyxy(110, 10, 130, 20).autofix(100, 80)


def test_record_copy_is_independent_and_negative_is_valid():
    rec = Record(record_id=1, filepath=None, width=64, height=48)
    assert rec.num_objects == 0
    rec.add_bboxes([BBox.from_xyxy(0, 0, 4, 4)])
    rec.add_labels(["cat"])
    rec.resolve_label_ids(ClassMap(["cat"]))
    copy = rec.copy()
    copy.bboxes.append(BBox.from_xyxy(1, 1, 2, 2))
    assert rec.num_objects == 1 and copy.num_objects == 2 and rec.label_ids == [1]
    assert rec.detection.bboxes is rec.bboxes


def test_record_unknown_label_names_the_file():
    rec = Record(record_id=1, filepath=None, width=8, height=8, labels=["cow"])
    with pytest.raises(ClassMapError, match="'cow' is not in the class map"):
        rec.resolve_label_ids(ClassMap(["cat"]))


def test_prediction_threshold_views_keep_every_score():
    pred = Prediction(
        boxes=[[0, 0, 10, 10], [5, 5, 20, 20], [1, 1, 3, 3]],
        scores=[0.9, 0.4, 0.1],
        label_ids=[1, 2, 1],
        class_map=ClassMap(["cat", "dog"]),
    )
    assert len(pred) == 1 and pred.labels == ["cat"]
    low = pred.with_threshold(0.3)
    assert len(low) == 2 and low.labels == ["cat", "dog"] and len(pred) == 1
    assert low.boxes.dtype == np.float32 and low.boxes.shape == (3, 4)
    # all detections (boxes, scores, label_ids) vs the kept ones (bboxes, kept_*), never mixed
    assert low.scores.tolist() == pytest.approx([0.9, 0.4, 0.1]) and len(low.bboxes) == 2
    assert low.kept_boxes.tolist() == [[0, 0, 10, 10], [5, 5, 20, 20]]
    assert [b.xyxy for b in low.bboxes] == [tuple(b) for b in low.kept_boxes.tolist()]
    assert low.kept_scores.tolist() == pytest.approx([0.9, 0.4])
    assert low.kept_label_ids == [1, 2] and low.label_ids.tolist() == [1, 2, 1]
    with pytest.raises(ValueError, match="one row per detection"):
        Prediction(boxes=[[0, 0, 1, 1]], scores=[0.5, 0.6], label_ids=[1])


def _three_boxes(**changes) -> Record:
    fields = dict(labels=["a", "b", "c"], label_ids=[1, 2, 3],
                  bboxes=[BBox.from_xyxy(i, i, i + 5, i + 5) for i in range(3)],
                  iscrowds=[False, True, False], areas=[10.0, 20.0, 30.0])
    fields.update(changes)
    return Record(7, None, 64, 48, **fields)


@pytest.mark.parametrize(
    "indices, labels, label_ids, iscrowds, areas",
    [
        ([0, 2], ["a", "c"], [1, 3], [False, False], [10.0, 30.0]),
        ([2, 0], ["c", "a"], [3, 1], [False, False], [30.0, 10.0]),  # in the order given
        ([], [], [], [], []),
        (np.array([1]), ["b"], [2], [True], [20.0]),
    ],
)
def test_record_select_keeps_the_boxes_at_indices(indices, labels, label_ids, iscrowds, areas):
    record = _three_boxes()
    kept = record.select(indices)
    assert (kept.labels, kept.label_ids, kept.iscrowds, kept.areas) == (
        labels, label_ids, iscrowds, areas)
    assert [b.xmin for b in kept.bboxes] == [float(i) for i in indices]
    assert kept.record_id == 7 and (kept.width, kept.height) == (64, 48)
    assert len(record.bboxes) == 3  # the record itself is unchanged


def test_record_select_keeps_lists_of_another_length():
    kept = _three_boxes(label_ids=[], iscrowds=None, areas=None).select([1])
    assert kept.labels == ["b"] and kept.label_ids == [] and kept.iscrowds is None
    assert kept.areas is None
