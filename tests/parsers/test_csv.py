"""CSVBBoxParser: TensorFlow Object Detection CSV, negatives from the folder, RetinaNet refused."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

from efficientdet_adapter import ClassMap, ParseError, UnsupportedFormatError
from efficientdet_adapter.parsers import CSVBBoxParser
from efficientdet_adapter.records.splitters import SingleSplitSplitter

HEADER = "filename,width,height,class,xmin,ymin,xmax,ymax\n"


def _folder(tmp_path: Path, csv_text: str, images=("a.jpg", "b.jpg", "neg.png")) -> Path:
    for name in images:
        Image.new("RGB", (64, 48)).save(tmp_path / name)
    path = tmp_path / "_annotations.csv"
    path.write_text(csv_text)
    return path


def _parse(parser):
    [records] = parser.parse(SingleSplitSplitter())
    return records


def test_rows_grouped_per_image_and_negatives_from_folder(tmp_path):
    path = _folder(tmp_path, HEADER + "b.jpg,64,48,zebra,1.5,2,30,40.25\n"
                   "a.jpg,64,48,ant,0,0,10,10\n" "b.jpg,64,48,ant,5,6,7,8\n")
    parser = CSVBBoxParser(path)
    records = _parse(parser)
    assert [r.filepath.name for r in records] == ["a.jpg", "b.jpg", "neg.png"]
    assert [r.record_id for r in records] == [0, 1, 2]
    a, b, neg = records
    assert b.labels == ["zebra", "ant"] and b.label_ids == [2, 1]
    assert [x.xyxy for x in b.bboxes] == [(1.5, 2, 30, 40.25), (5, 6, 7, 8)]
    assert neg.bboxes == [] and (neg.width, neg.height) == (64, 48)  # size from the header
    assert parser.class_map == ClassMap(["ant", "zebra"])  # no order in a CSV: sorted
    assert len(parser) == 3
    records = _parse(CSVBBoxParser(path, list_images=False))
    assert [r.filepath.name for r in records] == ["a.jpg", "b.jpg"]


def test_columns_in_any_order_and_given_class_map(tmp_path):
    path = _folder(tmp_path, "class,filename,xmin,ymin,xmax,ymax,width,height\n"
                   "zebra,a.jpg,1,2,3,4,64,48\n")
    records = _parse(CSVBBoxParser(path, class_map=ClassMap(["zebra", "ant"])))
    assert records[0].bboxes[0].xyxy == (1, 2, 3, 4) and records[0].label_ids == [1]
    with pytest.raises(ParseError, match=r"not in the class map: \['zebra'\]"):
        CSVBBoxParser(path, class_map=ClassMap(["ant"])).parse()


@pytest.mark.parametrize(
    "text",
    [
        "a.jpg,10,20,30,40,cat\nb.jpg,1,2,3,4,dog\n",  # Roboflow RetinaNet: path,x1,y1,x2,y2,class
        "a.jpg,,,,,\n",  # RetinaNet's row for an image without objects
    ],
)
def test_headerless_retinanet_export_is_refused(tmp_path, text):
    path = _folder(tmp_path, text)
    with pytest.raises(UnsupportedFormatError, match="RetinaNet.*not supported.*COCO JSON or YOLO"):
        CSVBBoxParser(path).parse()


@pytest.mark.parametrize(
    "text, message",
    [
        ("", "empty file"),
        ("a.jpg,x,y\n", "no header row"),
        ("filename,width,height,class,xmin,ymin,xmax\n", r"missing column\(s\) \['ymax'\]"),
        (HEADER + "a.jpg,64,48,cat,1,2,three,4\n", "line 2: non-numeric"),
        (HEADER + "a.jpg,64,48,cat,1,2,3,4\na.jpg,60,48,cat,1,2,3,4\n", "line 3: a.jpg is 60x48"),
        (HEADER + "a.jpg,64,48,cat,1,2\n", "line 2: 6 values for 8 columns"),
        (HEADER + "a.jpg,64,48,,1,2,3,4\n", "line 2: empty class name"),
        (HEADER + "../a.jpg,64,48,cat,1,2,3,4\n", "points outside the image folder"),
    ],
)
def test_malformed_csv(tmp_path, text, message):
    path = _folder(tmp_path, text)
    with pytest.raises(ParseError, match=message):
        CSVBBoxParser(path).parse()


def test_box_outside_image_is_clipped_and_reported(tmp_path):
    path = _folder(tmp_path, HEADER + "a.jpg,64,48,cat,-3,2,70,40\n", images=("a.jpg",))
    parser = CSVBBoxParser(path)
    [a] = _parse(parser)
    assert a.bboxes[0].xyxy == (0, 2, 64, 40) and parser.report.total == 1
    with pytest.raises(ParseError, match="a.jpg box 0 .* extends outside"):
        CSVBBoxParser(path).parse(autofix=False)
