"""COCOParser: real samples, contiguous label ids, Roboflow's group category, bad JSON."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
from PIL import Image

from efficientdet_adapter.records.bbox import BBox
from efficientdet_adapter.base.errors import ParseError
from efficientdet_adapter.parsers import COCOParser, SingleSplitSplitter
from efficientdet_adapter.parsers.base import (
    CLIPPED_BOX,
    DROPPED_BOX,
    MISSING_IMAGE,
    UNUSED_CATEGORY,
)


def test_sample_parses_to_the_files_values(samples_dir):
    path, img_dir = samples_dir / "coco/annotations.json", samples_dir / "coco/images"
    data = json.loads(path.read_text())
    assert (len(data["images"]), len(data["annotations"]), len(data["categories"])) == (6, 36, 80)
    parser = COCOParser(path, img_dir)
    (records,) = parser.parse(SingleSplitSplitter())

    cats = sorted(data["categories"], key=lambda c: c["id"])
    assert parser.class_map.get_classes() == ["background"] + [c["name"] for c in cats]
    assert parser.category_ids == {k + 1: c["id"] for k, c in enumerate(cats)}
    assert [r.record_id for r in records] == [im["id"] for im in data["images"]]
    assert sum(len(r.bboxes) for r in records) == 36
    by_id = {r.record_id: r for r in records}
    for im in data["images"]:
        r = by_id[im["id"]]
        anns = [a for a in data["annotations"] if a["image_id"] == im["id"]]
        assert r.filepath == img_dir / im["file_name"]
        assert (r.width, r.height) == (im["width"], im["height"])
        xyxy = [(x, y, x + w, y + h) for x, y, w, h in (a["bbox"] for a in anns)]
        assert [b.xyxy for b in r.bboxes] == xyxy  # exactly the float sums
        name_of = {c["id"]: c["name"] for c in cats}
        assert r.labels == [name_of[a["category_id"]] for a in anns]
        assert [parser.category_ids[i] for i in r.label_ids] == [a["category_id"] for a in anns]
        assert r.iscrowds == [a["iscrowd"] == 1 for a in anns]
        assert r.areas == [a["area"] for a in anns]
    assert parser.report.total == 0


def test_sample_spot_values_checked_by_hand(samples_dir):
    parser = COCOParser(samples_dir / "coco/annotations.json", samples_dir / "coco/images")
    (records,) = parser.parse(SingleSplitSplitter())
    r = next(r for r in records if r.record_id == 343934)
    # annotation 150977: category 4 (motorcycle), bbox [175.14, 175.68, 321.08, 240]
    i = r.labels.index("motorcycle")
    assert r.bboxes[i].xyxy == pytest.approx((175.14, 175.68, 496.22, 415.68))
    assert r.areas[i] == 43522.80595 and r.label_ids[i] == 4
    # COCO's 80 classes have ids up to 90: label 80 is category 90 (toothbrush)
    assert parser.category_ids[80] == 90 and parser.class_map.get_by_id(80) == "toothbrush"
    assert len(parser.class_map) == 81


def test_check_images_agrees_with_the_sample_sizes(samples_dir):
    parser = COCOParser(samples_dir / "coco/annotations.json", samples_dir / "coco/images",
                            check_images=True)
    parser.parse()
    assert parser.report.total == 0


def write_coco(tmp_path: Path, data: dict, images=("a.jpg", "b.jpg"), size=(64, 48)) -> Path:
    for name in images:
        Image.new("RGB", size).save(tmp_path / name)
    path = tmp_path / "ann.json"
    path.write_text(json.dumps(data))
    return path


def coco(annotations=None, categories=None, images=None) -> dict:
    return {
        "images": images if images is not None else [
            {"id": 0, "file_name": "a.jpg", "width": 64, "height": 48},
            {"id": 1, "file_name": "b.jpg", "width": 64, "height": 48},
        ],
        "annotations": annotations if annotations is not None else [
            {"id": 0, "image_id": 0, "category_id": 1, "bbox": [1, 2, 10, 20], "area": 200,
             "iscrowd": 0},
        ],
        "categories": categories if categories is not None else [
            {"id": 1, "name": "cat", "supercategory": "animals"},
        ],
    }


def ann(**changes):
    a = {"id": 5, "image_id": 0, "category_id": 1, "bbox": [1, 2, 10, 20]}
    a.update(changes)
    return {k: v for k, v in a.items() if v is not None}


def test_category_id_gaps_become_contiguous_label_ids(tmp_path):
    cats = [{"id": 90, "name": "zebra"}, {"id": 5, "name": "dog"}, {"id": 1, "name": "cat"}]
    anns = [{"id": k, "image_id": 0, "category_id": c, "bbox": [1, 1, 5, 5]}
            for k, c in enumerate([90, 1, 5])]
    parser = COCOParser(write_coco(tmp_path, coco(anns, cats)), tmp_path)
    (records,) = parser.parse(SingleSplitSplitter())
    assert parser.class_map.get_classes() == ["background", "cat", "dog", "zebra"]
    assert parser.category_ids == {1: 1, 2: 5, 3: 90}
    assert records[0].label_ids == [3, 1, 2] and records[0].labels == ["zebra", "cat", "dog"]
    assert records[0].areas == [25.0, 25.0, 25.0]  # no area given: w * h
    assert records[0].iscrowds == [False, False, False]


ROBOFLOW_CATS = [
    {"id": 0, "name": "animals", "supercategory": "none"},
    {"id": 1, "name": "cat", "supercategory": "animals"},
    {"id": 2, "name": "dog", "supercategory": "animals"},
]


@pytest.mark.parametrize("group_used", [False, True])
def test_roboflow_group_category_dropped_and_reported_unless_used(tmp_path, group_used):
    anns = [{"id": 0, "image_id": 0, "category_id": 2, "bbox": [1, 1, 5, 5]}]
    if group_used:
        anns.append({"id": 1, "image_id": 1, "category_id": 0, "bbox": [1, 1, 5, 5]})
    parser = COCOParser(write_coco(tmp_path, coco(anns, ROBOFLOW_CATS)), tmp_path)
    parser.parse()
    if group_used:
        assert parser.class_map.get_classes() == ["background", "animals", "cat", "dog"]
        assert parser.category_ids == {1: 0, 2: 1, 3: 2} and parser.report.total == 0
    else:
        assert parser.class_map.get_classes() == ["background", "cat", "dog"]
        assert parser.category_ids == {1: 1, 2: 2}
        assert parser.report.counts == {UNUSED_CATEGORY: 1}
        assert "category 0 'animals'" in parser.report.items[UNUSED_CATEGORY][0]


def test_unused_ordinary_category_stays_a_class(tmp_path):
    cats = [{"id": 1, "name": "cat", "supercategory": "animal"},
            {"id": 2, "name": "dog", "supercategory": "animal"}]
    parser = COCOParser(write_coco(tmp_path, coco(categories=cats)), tmp_path)
    parser.parse()
    assert parser.class_map.get_classes() == ["background", "cat", "dog"]


@pytest.mark.parametrize("keep_negatives, ids", [(True, [0, 1]), (False, [0])])
def test_images_without_annotations_are_negatives(tmp_path, keep_negatives, ids):
    parser = COCOParser(write_coco(tmp_path, coco()), tmp_path, keep_negatives=keep_negatives)
    (records,) = parser.parse(SingleSplitSplitter())
    assert [r.record_id for r in records] == ids
    if keep_negatives:
        assert records[1].bboxes == [] and records[1].labels == [] and records[1].iscrowds == []


def test_boxes_outside_the_image_are_fixed_with_aligned_lists(tmp_path):
    anns = [
        ann(id=7, bbox=[-4, 2, 10, 20], area=1, iscrowd=0),
        ann(id=8, bbox=[80, 2, 10, 20], area=2, iscrowd=1),
        ann(id=9, bbox=[5, 5, 5, 5], area=3, iscrowd=1),
        ann(id=10, image_id=1, bbox=[5, 5, 0, 5], area=4),
    ]
    parser = COCOParser(write_coco(tmp_path, coco(anns)), tmp_path)
    (records,) = parser.parse(SingleSplitSplitter())
    a, b = records
    assert [x.xyxy for x in a.bboxes] == [(0.0, 2.0, 6.0, 22.0), (5.0, 5.0, 10.0, 10.0)]
    assert a.iscrowds == [False, True] and a.areas == [1.0, 3.0] and a.label_ids == [1, 1]
    assert b.bboxes == [] and b.areas == [] and b.iscrowds == []
    assert parser.report.counts == {CLIPPED_BOX: 1, DROPPED_BOX: 2}
    with pytest.raises(ParseError, match=r"a\.jpg box 0 \(cat\) \(-4, 2, 6, 22\) in a 64x48"):
        COCOParser(write_coco(tmp_path, coco(anns)), tmp_path).parse(autofix=False)


def test_missing_size_and_missing_image(tmp_path):
    images = [{"id": 0, "file_name": "a.jpg"}, {"id": 1, "file_name": "gone.jpg"}]
    anns = [{"id": 0, "image_id": 0, "category_id": 1, "bbox": [50, 40, 20, 20]}]
    parser = COCOParser(write_coco(tmp_path, coco(anns, images=images), images=["a.jpg"],
                                       size=(60, 50)), tmp_path)
    (records,) = parser.parse(SingleSplitSplitter())
    assert [(r.record_id, r.width, r.height) for r in records] == [(0, 60, 50)]
    assert records[0].bboxes[0].xyxy == (50.0, 40.0, 60.0, 50.0)  # clipped to the header size
    assert parser.report.counts == {MISSING_IMAGE: 1, CLIPPED_BOX: 1}


def test_fast_boxes_equal_regular_boxes(tmp_path):
    parser = COCOParser(write_coco(tmp_path, coco()), tmp_path)
    (records,) = parser.parse(SingleSplitSplitter())
    box = records[0].bboxes[0]
    assert box == BBox.from_xywh(1, 2, 10, 20) and hash(box) == hash(BBox(1.0, 2.0, 11.0, 22.0))
    assert repr(box) == "BBox(xmin=1.0, ymin=2.0, xmax=11.0, ymax=22.0)"
    with pytest.raises(dataclasses.FrozenInstanceError):
        box.xmin = 3.0


@pytest.mark.parametrize(
    "content, message",
    [
        ("{not json", r"ann\.json: malformed JSON"),
        ("[1, 2]", r"ann\.json: expected a JSON object"),
        ({"images": [], "categories": []}, r"ann\.json: the 'annotations' list is missing"),
        (coco(images=[{"id": 0}]), r"ann\.json: images\[0\] needs an 'id' and a 'file_name'"),
        (coco(images=[{"id": 0, "file_name": "a.jpg"}] * 2), r"image id 0 appears twice"),
        (coco(images=[{"id": 0, "file_name": "a.jpg", "width": "x", "height": 4}]),
         r"image 0 \('a\.jpg'\) has a non-numeric width/height"),
        (coco(images=[{"id": 3, "file_name": "../secret.jpg"}]),
         r"ann\.json, image id 3: image file name '\.\./secret\.jpg' points outside"),
        (coco(categories=[{"id": 1}]), r"categories\[0\] needs an 'id' and a 'name'"),
        (coco(categories=[{"id": "1", "name": "cat"}]), r"expected an integer id"),
        (coco(categories=[{"id": 1, "name": "cat"}, {"id": 1, "name": "dog"}]),
         r"category id 1 appears twice"),
        (coco(categories=[{"id": 1, "name": "cat"}, {"id": 2, "name": "cat"}]),
         r"categories cannot form a class map: class 'cat' is already"),
        (coco([ann(bbox=None)]), r"ann\.json, annotation id 5: the 'bbox' field is missing"),
        (coco([ann(image_id=None)]), r"annotation id 5: the 'image_id' field is missing"),
        (coco([ann(image_id=42)]), r"annotation id 5: image_id 42 is not in 'images'"),
        (coco([ann(category_id=9)]), r"annotation id 5: category_id 9 is not in 'categories'"),
        (coco([ann(bbox=[1, 2, 3])]), r"annotation id 5: bbox \[1, 2, 3\] is not four numbers"),
        (coco([ann(bbox=[1, "a", 3, 4])]), r"annotation id 5: bbox \[1, 'a', 3, 4\] or area"),
        (coco([ann(area="big")]), r"annotation id 5: .* area 'big' is not numeric"),
        (coco(["oops"]), r"ann\.json: an annotation is 'oops', not a JSON object"),
    ],
)
def test_bad_json_is_a_parse_error_naming_file_and_annotation(tmp_path, content, message):
    (tmp_path / "ann.json").write_text(content if isinstance(content, str) else json.dumps(content))
    Image.new("RGB", (64, 48)).save(tmp_path / "a.jpg")
    with pytest.raises(ParseError, match=message):
        COCOParser(tmp_path / "ann.json", tmp_path).parse()


def test_missing_file(tmp_path):
    with pytest.raises(ParseError, match=r"nope\.json: COCO annotation file not found"):
        COCOParser(tmp_path / "nope.json", tmp_path).parse()


# -- hostile or unlucky files ---------------------------------------------------------------------
@pytest.mark.parametrize("bbox", [[1, 2, float("inf"), 20], [1, 2, 10, float("nan")],
                                  [float("-inf"), 2, 10, 20]])
def test_box_of_infinite_or_nan_size_is_dropped_never_clipped_into_a_real_box(tmp_path, bbox):
    from efficientdet_adapter.parsers.base import NONFINITE_BOX

    path = write_coco(tmp_path, coco([ann(id=0), ann(id=1, bbox=bbox)]))  # json writes Infinity
    parser = COCOParser(path, tmp_path)
    ((a, b),) = parser.parse(SingleSplitSplitter())
    assert [bx.xyxy for bx in a.bboxes] == [(1.0, 2.0, 11.0, 22.0)]
    assert a.labels == ["cat"] and a.iscrowds == [False] and len(a.areas) == 1
    assert parser.report.counts == {NONFINITE_BOX: 1}
    assert "a.jpg box 1 (cat)" in parser.report.items[NONFINITE_BOX][0]
    with pytest.raises(ParseError, match=r"a\.jpg box 1 \(cat\) .*: a coordinate is not a finite "
                                         r"number; fix the annotation"):
        COCOParser(path, tmp_path).parse(SingleSplitSplitter(), autofix=False)


def test_deeply_nested_json_is_a_clear_error(tmp_path):
    path = tmp_path / "ann.json"
    path.write_text('{"images": ' + "[" * 200_000 + "]" * 200_000 + "}")
    with pytest.raises(ParseError, match=r"ann\.json: JSON nested too deeply to read .* re-export"):
        COCOParser(path, tmp_path).parse()
