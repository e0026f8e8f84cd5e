"""RecordCollection as IceVision's: what parsers and splits return, with its methods."""

from __future__ import annotations

import json

import pytest

from efficientdet_adapter import BBox, Record, parsers
from efficientdet_adapter.records.collection import RecordCollection
from efficientdet_adapter.records.splitters import FixedSplitter, FuncSplitter, RandomSplitter


def records(n=5):
    return [Record(i, None, 10, 10, labels=["a"], bboxes=[BBox.from_xyxy(1, 1, 5, 5)])
            for i in range(n)]


def test_a_list_with_icevisions_methods():
    rc = RecordCollection(records())
    assert isinstance(rc, list) and len(rc) == 5 and rc == records()
    assert rc.get_by_record_id(3).record_id == 3
    with pytest.raises(KeyError, match="record_id 9 is not in this collection of 5 records"):
        rc.get_by_record_id(9)
    head = rc[:2]
    assert isinstance(head, RecordCollection) and [r.record_id for r in head] == [0, 1]
    assert isinstance(rc[0], Record)
    both = head + rc[4:]
    assert isinstance(both, RecordCollection) and [r.record_id for r in both] == [0, 1, 4]
    train, valid = rc.make_splits(FixedSplitter([[4, 0], [2]]))
    assert [r.record_id for r in train] == [4, 0] and [r.record_id for r in valid] == [2]
    assert isinstance(valid, RecordCollection) and repr(valid) == "<RecordCollection with 1 records>"
    odd, = rc.make_splits(FuncSplitter(lambda rs: [[r.record_id for r in rs if r.record_id % 2]]))
    assert [r.record_id for r in odd] == [1, 3]


def test_icevision_style_building_with_create_record_fn():
    rc = RecordCollection(lambda: Record(None, None, 10, 10))
    first = rc.get_by_record_id("img1")
    assert first.record_id == "img1" and len(rc) == 1
    assert rc.get_by_record_id("img1") is first  # found, not created again
    assert rc.new([]).create_record_fn is rc.create_record_fn


def test_autofix_clips_and_drops_on_copies():
    r = Record(0, None, 10, 10, labels=["a", "b", "c"], label_ids=[1, 2, 1],
               bboxes=[BBox.from_xyxy(5, 5, 20, 20), BBox.from_xyxy(11, 11, 15, 15),
                       BBox.from_xyxy(1, 1, 2, 2)], areas=[1.0, 2.0, 3.0])
    rc = RecordCollection([r])
    [fixed] = rc.autofix()
    assert fixed.labels == ["a", "c"] and fixed.label_ids == [1, 1] and fixed.areas == [1.0, 3.0]
    assert fixed.bboxes[0].xyxy == (5, 5, 10, 10)
    assert len(r.bboxes) == 3  # the original is untouched


def test_parsers_return_collections(tmp_path):
    from PIL import Image

    images = tmp_path / "images"
    images.mkdir()
    for i in range(4):
        Image.new("RGB", (32, 24)).save(images / f"{i}.jpg")
    coco = {"images": [{"id": i, "file_name": f"{i}.jpg", "width": 32, "height": 24}
                       for i in range(4)],
            "annotations": [{"id": i, "image_id": i, "category_id": 1, "bbox": [2, 2, 10, 10],
                             "area": 100, "iscrowd": 0} for i in range(4)],
            "categories": [{"id": 1, "name": "thing"}]}
    (tmp_path / "ann.json").write_text(json.dumps(coco))
    parser = parsers.COCOBBoxParser(tmp_path / "ann.json", images)
    train, valid = parser.parse(RandomSplitter([0.5, 0.5], seed=0))
    assert isinstance(train, RecordCollection) and isinstance(valid, RecordCollection)
    assert len(train) + len(valid) == 4
    assert train.get_by_record_id(train[0].record_id) is train[0]
