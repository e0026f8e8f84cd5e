"""Writers: records -> Roboflow-layout exports; predictions -> COCO results / VOC / YOLO files."""

from __future__ import annotations

import contextlib
import csv
import io
import json
from pathlib import Path

import numpy as np
import pytest
import yaml
from PIL import Image

from efficientdet_adapter import BBox, ClassMap, Prediction, Record
from efficientdet_adapter.parsers.voc import read_voc_xml
from efficientdet_adapter.parsers.writers import (
    CSV_HEADER,
    image_dir,
    write_coco,
    write_coco_results,
    write_csv,
    write_export,
    write_voc,
    write_voc_predictions,
    write_yolo,
    write_yolo_predictions,
)

CLASS_MAP = ClassMap(["cat", "dog"])


def _image(path: Path, width: int, height: int) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (width, height), (90, 120, 150)).save(path, format="JPEG")
    return path


@pytest.fixture
def splits(tmp_path) -> dict[str, list[Record]]:
    """train: one image with two boxes (decimal coordinates) + a negative; valid: one box."""
    src = tmp_path / "src"
    a = Record(0, _image(src / "a.jpg", 64, 48), 64, 48, ["dog", "cat"], [2, 1],
               [BBox.from_xyxy(1.25, 2.5, 30.75, 40), BBox.from_xyxy(20, 10, 60, 47.5)],
               class_map=CLASS_MAP)
    neg = Record(1, _image(src / "neg.jpg", 40, 30), 40, 30, class_map=CLASS_MAP)
    v = Record(2, _image(src / "v.jpg", 50, 50), 50, 50, ["cat"], [1],
               [BBox.from_xyxy(0, 0, 50, 50)], class_map=CLASS_MAP)
    return {"train": [a, neg], "valid": [v]}


def test_coco_layout_ids_restart_and_group_category(splits, tmp_path):
    out = write_coco(splits, tmp_path / "coco", group_name="pets")
    train = json.loads((out / "train" / "_annotations.coco.json").read_text())
    valid = json.loads((out / "valid" / "_annotations.coco.json").read_text())
    assert train["categories"] == [
        {"id": 0, "name": "pets", "supercategory": "none"},
        {"id": 1, "name": "cat", "supercategory": "pets"},
        {"id": 2, "name": "dog", "supercategory": "pets"},
    ]
    assert [im["id"] for im in train["images"]] == [0, 1] and valid["images"][0]["id"] == 0
    assert [a["id"] for a in train["annotations"]] == [0, 1] and valid["annotations"][0]["id"] == 0
    first = train["annotations"][0]
    assert first["bbox"] == [1.25, 2.5, 29.5, 37.5] and first["category_id"] == 2
    assert first["area"] == pytest.approx(29.5 * 37.5) and first["iscrowd"] == 0
    assert train["images"][1] == {"id": 1, "license": 1, "file_name": "neg.jpg", "height": 30,
                                  "width": 40}
    assert sorted(p.name for p in (out / "train").iterdir()) == [
        "_annotations.coco.json", "a.jpg", "neg.jpg"]


@pytest.mark.parametrize("one_based, offset", [(True, 1.0), (False, 0.0)])
def test_voc_xml_beside_image_with_offset(splits, tmp_path, one_based, offset):
    out = write_voc(splits, tmp_path / "voc", one_based=one_based)
    xml = (out / "train" / "a.xml").read_text()
    assert "<xmin>" + str(1.25 + offset) + "</xmin>" in xml
    assert f"<ymax>{int(40 + offset)}</ymax>" in xml  # whole numbers without a decimal point
    assert (out / "train" / "a.jpg").is_file() and (out / "train" / "neg.xml").is_file()
    back = read_voc_xml(out / "train" / "a.xml", out / "train", one_based=one_based)
    assert [b.xyxy for b in back.bboxes] == [b.xyxy for b in splits["train"][0].bboxes]
    assert back.labels == ["dog", "cat"] and (back.width, back.height) == (64, 48)


def test_yolo_layout_yaml_and_labels(splits, tmp_path):
    out = write_yolo(splits, tmp_path / "yolo")
    data = yaml.safe_load((out / "data.yaml").read_text())
    assert data == {"train": "../train/images", "val": "../valid/images", "nc": 2,
                    "names": ["cat", "dog"]}
    assert (out / "train" / "images" / "a.jpg").is_file()
    assert (out / "train" / "labels" / "neg.txt").read_text() == ""
    rows = [line.split() for line in (out / "train" / "labels" / "a.txt").read_text().splitlines()]
    box = splits["train"][0].bboxes[0]
    assert rows[0][0] == "1"  # dog: index 1 of names
    assert [float(v) for v in rows[0][1:]] == pytest.approx(box.relative_xcycwh(64, 48), abs=1e-12)


def test_csv_header_and_no_row_for_negatives(splits, tmp_path):
    out = write_csv(splits, tmp_path / "csv")
    rows = list(csv.reader((out / "train" / "_annotations.csv").open()))
    assert tuple(rows[0]) == CSV_HEADER
    assert rows[1:] == [["a.jpg", "64", "48", "dog", "1.25", "2.5", "30.75", "40"],
                        ["a.jpg", "64", "48", "cat", "20", "10", "60", "47.5"]]
    assert (out / "train" / "neg.jpg").is_file()  # the negative's image is there, without a row


def test_image_from_array_and_duplicate_names(tmp_path):
    pixels = np.full((12, 16, 3), 200, np.uint8)
    r = Record("x", None, 16, 12, img=pixels)
    out = write_export([r], tmp_path / "arr", format="csv", class_map=CLASS_MAP)
    assert Image.open(out / "train" / "x.jpg").size == (16, 12)
    twin = Record(1, out / "train" / "x.jpg", 16, 12)
    with pytest.raises(ValueError, match="share the image file name 'x.jpg'"):
        write_coco([twin, twin], tmp_path / "dup", class_map=CLASS_MAP)


def test_write_export_rejects_unknown_format(splits, tmp_path):
    with pytest.raises(ValueError, match="unknown export format 'tfrecord'"):
        write_export(splits, tmp_path / "x", format="tfrecord")
    assert image_dir(tmp_path, "valid", "yolo") == tmp_path / "valid" / "images"


# -- predictions ----------------------------------------------------------------------------------
def _preds(tmp_path) -> list[Prediction]:
    gt = Record(7, _image(tmp_path / "p.jpg", 100, 80), 100, 80, class_map=CLASS_MAP)
    return [Prediction(
        boxes=[[10, 20, 40, 60], [0, 0, 100, 80], [5, 5, 6, 6]],
        scores=[0.9, 0.6, 0.1], label_ids=[1, 2, 1], detection_threshold=0.5,
        ground_truth=gt,
    )]


def test_coco_results_original_category_ids_and_pycocotools(tmp_path):
    preds = _preds(tmp_path)
    path = write_coco_results(preds, tmp_path / "res.json", category_ids={1: 18, 2: 44})
    res = json.loads(path.read_text())
    assert res == [
        {"image_id": 7, "category_id": 18, "bbox": [10.0, 20.0, 30.0, 40.0], "score": 0.9},
        {"image_id": 7, "category_id": 44, "bbox": [0.0, 0.0, 100.0, 80.0],
         "score": pytest.approx(0.6)},
    ]
    every = json.loads(write_coco_results(preds, tmp_path / "all.json", min_score=0.0).read_text())
    assert [r["category_id"] for r in every] == [1, 2, 1]
    # pycocotools reads it against a ground truth written by write_coco
    from pycocotools.coco import COCO

    gt = Record(0, tmp_path / "p.jpg", 100, 80, ["cat"], [1], [BBox.from_xyxy(10, 20, 40, 60)])
    write_coco([gt], tmp_path / "gt", class_map=CLASS_MAP)
    with contextlib.redirect_stdout(io.StringIO()):
        coco = COCO(str(tmp_path / "gt" / "train" / "_annotations.coco.json"))
        dets = coco.loadRes(str(write_coco_results(preds, tmp_path / "r0.json",
                                                   image_ids={7: 0})))
    assert len(dets.getAnnIds()) == 2


def test_coco_results_needs_int_image_ids(tmp_path):
    pred = Prediction(np.zeros((0, 4)), [], [], record_id="img_a")
    with pytest.raises(ValueError, match="record id 'img_a', not an int"):
        write_coco_results([pred], tmp_path / "r.json")


def test_voc_predictions_read_back_by_voc_parser(tmp_path):
    [path] = write_voc_predictions(_preds(tmp_path), tmp_path / "voc_out")
    assert path.name == "p.xml" and "<score>0.9" in path.read_text()
    back = read_voc_xml(path, tmp_path)
    assert back.labels == ["cat", "dog"]
    assert [b.xyxy for b in back.bboxes] == [(10, 20, 40, 60), (0, 0, 100, 80)]


def test_yolo_predictions_lines_with_scores(tmp_path):
    [path] = write_yolo_predictions(_preds(tmp_path), tmp_path / "yolo_out", min_score=0.05)
    rows = [[float(v) for v in line.split()] for line in path.read_text().splitlines()]
    assert len(rows) == 3
    assert rows[0] == pytest.approx([0, 25 / 100, 40 / 80, 30 / 100, 40 / 80, 0.9])
    assert rows[1][0] == 1 and rows[1][5] == pytest.approx(0.6)
    no_size = Prediction(np.zeros((0, 4)), [], [], record_id=3)
    with pytest.raises(ValueError, match="has no image width/height"):
        write_yolo_predictions([no_size], tmp_path / "y2")


def test_export_batch_inferences_as_coco_annotations(tmp_path):
    import json

    from efficientdet_adapter.records.class_map import ClassMap
    from efficientdet_adapter.records.predictions import Prediction
    from efficientdet_adapter.parsers.writers import export_batch_inferences_as_coco_annotations

    cm = ClassMap(["can", "carton"])
    preds = [
        Prediction(boxes=[[10, 20, 50, 80], [0, 0, 4, 4]], scores=[0.9, 0.1], label_ids=[2, 1],
                   detection_threshold=0.5, class_map=cm, width=100, height=90),
        Prediction(boxes=[], scores=[], label_ids=[], class_map=cm, width=64, height=48),
    ]
    path = export_batch_inferences_as_coco_annotations(
        preds, ["a/x.jpg", "b/y.jpg"], None, cm, tmp_path / "pseudo.json",
        info={"year": "2022"}, licenses=[{"id": 0, "name": "CC"}])
    data = json.loads(path.read_text())
    assert data["categories"] == [{"id": 1, "name": "can"}, {"id": 2, "name": "carton"}]
    assert data["images"] == [{"id": 0, "file_name": "x.jpg", "width": 100, "height": 90},
                              {"id": 1, "file_name": "y.jpg", "width": 64, "height": 48}]
    [ann] = data["annotations"]  # the 0.1 detection is below the threshold
    assert ann["bbox"] == [10.0, 20.0, 40.0, 60.0] and ann["category_id"] == 2
    assert ann["score"] == 0.9 and ann["area"] == 2400.0
    assert data["info"] == {"year": "2022"} and data["licenses"] == [{"id": 0, "name": "CC"}]
    with pytest.raises(ValueError, match="2 predictions for 1 image files"):
        export_batch_inferences_as_coco_annotations(preds, ["x.jpg"], None, cm, tmp_path / "p.json")
