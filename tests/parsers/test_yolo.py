"""YOLOBBoxParser: normalized boxes, polygons, negatives, names from data.yaml or a file."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from efficientdet_adapter import ClassMap, ParseError
from efficientdet_adapter.records.splitters import SingleSplitSplitter
from efficientdet_adapter.parsers import YOLOBBoxParser
from efficientdet_adapter.parsers.yolo import ORPHAN_LABEL, read_yolo_names


def _export(tmp_path: Path, labels: dict[str, str | None], sizes=None) -> Path:
    """``tmp/train/images/<stem>.jpg`` (+ ``labels/<stem>.txt`` unless the label is None)."""
    images, label_dir = tmp_path / "train" / "images", tmp_path / "train" / "labels"
    images.mkdir(parents=True)
    label_dir.mkdir(parents=True)
    for stem, text in labels.items():
        size = (sizes or {}).get(stem, (200, 100))
        Image.new("RGB", size, (30, 60, 90)).save(images / f"{stem}.jpg")
        if text is not None:
            (label_dir / f"{stem}.txt").write_text(text)
    return images


def _parse(parser):
    [records] = parser.parse(SingleSplitSplitter())
    return records


def test_boxes_polygons_and_negatives(tmp_path):
    images = _export(tmp_path, {
        "a": "1 0.5 0.5 0.2 0.4\n0 0.1 0.2 0.1 0.2\n",
        "b": "2 0.1 0.2 0.4 0.2 0.3 0.9 0.05 0.6\n",  # polygon (4 points)
        "c": "",  # empty label file: a negative
        "d": None,  # no label file: a negative
    })
    records = _parse(YOLOBBoxParser(images, class_names=["cat", "dog", "bird"]))
    assert [r.filepath.name for r in records] == ["a.jpg", "b.jpg", "c.jpg", "d.jpg"]
    assert [r.record_id for r in records] == [0, 1, 2, 3]
    a, b, c, d = records
    assert (a.width, a.height) == (200, 100) and a.labels == ["dog", "cat"]
    assert a.bboxes[0].xyxy == pytest.approx((80, 30, 120, 70))
    assert a.bboxes[1].xyxy == pytest.approx((10, 10, 30, 30))
    assert b.labels == ["bird"] and b.bboxes[0].xyxy == pytest.approx((10, 20, 80, 90))
    assert c.bboxes == [] and d.bboxes == [] and a.label_ids == [2, 1]


@pytest.mark.parametrize(
    "yaml_text, names",
    [
        ("names: [zebra, ant]\nnc: 2\n", ["zebra", "ant"]),  # the file's order, never sorted
        ("names:\n  0: zebra\n  1: ant\n", ["zebra", "ant"]),  # Ultralytics dict form
        ("names: {1: ant, 0: zebra}\n", ["zebra", "ant"]),
    ],
)
def test_names_from_data_yaml_list_or_dict(tmp_path, yaml_text, names):
    images = _export(tmp_path, {"a": "1 0.5 0.5 0.5 0.5\n"})
    (tmp_path / "data.yaml").write_text("train: ../train/images\n" + yaml_text)
    parser = YOLOBBoxParser(images)  # finds data.yaml two folders up
    records = _parse(parser)
    assert parser.class_map.foreground == names and records[0].labels == ["ant"]


def test_names_file_and_class_map(tmp_path):
    images = _export(tmp_path, {"a": "0 0.5 0.5 0.5 0.5\n"})
    (tmp_path / "obj.names").write_text("fish\n\nfrog\n")
    assert read_yolo_names(tmp_path / "obj.names") == ["fish", "frog"]
    records = _parse(YOLOBBoxParser(images, class_names=tmp_path / "obj.names"))
    assert records[0].labels == ["fish"]
    cm = ClassMap(["frog", "fish"])  # given map: its foreground gives the classes by index
    records = _parse(YOLOBBoxParser(images, class_map=cm))
    assert records[0].labels == ["frog"] and records[0].label_ids == [1]


@pytest.mark.parametrize(
    "line, message",
    [
        ("0 0.5 abc 0.1 0.1", r"a\.txt, line 2: non-numeric value"),
        ("3 0.5 0.5 0.1 0.1", r"a\.txt, line 2: class index 3 is not one of the 2 classes"),
        ("0 0.5 0.5 0.1 0.1 0.9", r"line 2: 5 numbers after the class index"),
        ("0 0.5 0.5 0.1", r"line 2: 3 numbers after the class index"),
        ("0.5 0.5 0.5 0.1 0.1", r"line 2: class index 0.5"),
    ],
)
def test_malformed_lines_name_file_and_line(tmp_path, line, message):
    images = _export(tmp_path, {"a": "0 0.5 0.5 0.2 0.2\n" + line + "\n"})
    with pytest.raises(ParseError, match=message):
        YOLOBBoxParser(images, class_names=["x", "y"]).parse()


@pytest.mark.parametrize(
    "yaml_text, message",
    [
        ("names: [a, b\n", "malformed YAML"),
        ("nc: 2\n", "no 'names' entry"),
        ("names: {0: a, 2: c}\n", "without gaps"),
        ("names: [a, b]\nnc: 3\n", "nc is 3 but 'names' lists 2 classes"),
    ],
)
def test_bad_data_yaml(tmp_path, yaml_text, message):
    (tmp_path / "data.yaml").write_text(yaml_text)
    with pytest.raises(ParseError, match=message):
        read_yolo_names(tmp_path / "data.yaml")


def test_missing_names_and_labels_folder(tmp_path):
    images = _export(tmp_path, {"a": ""})
    with pytest.raises(ParseError, match="no class names given and no data.yaml"):
        YOLOBBoxParser(images)
    with pytest.raises(ParseError, match="labels folder .*nowhere not found"):
        YOLOBBoxParser(images, tmp_path / "nowhere", ["x"]).parse()


def test_sizes_from_headers_only_and_exif(tmp_path):
    images = _export(tmp_path, {"a": "0 0.5 0.5 1 1\n"})
    # a JPEG cut in the middle of its pixel data: decoding fails, reading the size does not
    noise = np.random.default_rng(0).integers(0, 255, (80, 120, 3), dtype=np.uint8)
    Image.fromarray(noise).save(images / "a.jpg", quality=95)
    data = (images / "a.jpg").read_bytes()
    (images / "a.jpg").write_bytes(data[: len(data) // 2])
    with pytest.raises(OSError):
        Image.open(images / "a.jpg").load()
    # an EXIF-rotated image (orientation 6): loaded as 80x120, and so are its YOLO coordinates
    exif = Image.Exif()
    exif[0x0112] = 6
    Image.new("RGB", (120, 80)).save(images / "b.jpg", exif=exif.tobytes())
    (tmp_path / "train" / "labels" / "b.txt").write_text("0 0.5 0.5 1 1\n")
    a, b = _parse(YOLOBBoxParser(images, class_names=["x"]))
    assert (a.width, a.height) == (120, 80) and a.bboxes[0].xyxy == (0, 0, 120, 80)
    assert (b.width, b.height) == (80, 120) and b.bboxes[0].xyxy == (0, 0, 80, 120)


def test_orphan_label_is_reported(tmp_path):
    images = _export(tmp_path, {"a": ""})
    (tmp_path / "train" / "labels" / "gone.txt").write_text("0 0.5 0.5 0.1 0.1\n")
    parser = YOLOBBoxParser(images, class_names=["x"])
    assert len(_parse(parser)) == 1
    assert parser.report.counts == {ORPHAN_LABEL: 1}
    assert parser.report.items[ORPHAN_LABEL][0].endswith("gone.txt")


# -- hostile or unlucky files ---------------------------------------------------------------------
BILLION_LAUGHS = """\
a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]
b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]
h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]
i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]
names: *i
"""


def test_yaml_aliases_billion_laughs_are_refused_at_once(tmp_path):
    import time

    path = tmp_path / "data.yaml"
    path.write_text(BILLION_LAUGHS)
    assert path.stat().st_size < 600
    start = time.perf_counter()
    with pytest.raises(ParseError, match=r"data\.yaml: YAML alias \*a at line 2; aliases are not "
                                         r"read .*billion laughs.*write the values out"):
        read_yolo_names(path)
    assert time.perf_counter() - start < 2


@pytest.mark.parametrize(
    "text,pattern",
    [
        ("names: [[a, b], c]\n", r"'names' must hold class names \(strings\), got \['a', 'b'\]"),
        ("names: {0: {x: 1}}\n", r"'names' must hold class names \(strings\), got \{'x': 1\}"),
        ("names: [a\n", r"malformed YAML"),
    ],
)
def test_yaml_names_must_be_names(tmp_path, text, pattern):
    path = tmp_path / "data.yaml"
    path.write_text(text)
    with pytest.raises(ParseError, match=pattern):
        read_yolo_names(path)


def test_huge_data_yaml_is_refused_unread(tmp_path):
    path = tmp_path / "data.yaml"
    path.write_text("names: [a]\n" + "#" * (2 << 20))
    with pytest.raises(ParseError, match=r"data\.yaml: \d+ bytes; a class names file is far "
                                         r"smaller"):
        read_yolo_names(path)


def test_label_file_and_data_yaml_with_utf8_byte_order_mark(tmp_path):
    """Windows editors write a BOM; it is no part of the first number or name."""
    images, labels = tmp_path / "images", tmp_path / "labels"
    images.mkdir()
    labels.mkdir()
    Image.new("RGB", (100, 50)).save(images / "a.png")
    (labels / "a.txt").write_bytes("\ufeff1 0.5 0.5 0.2 0.4\n".encode("utf-8"))
    (tmp_path / "data.yaml").write_bytes("\ufeffnames: [cat, dog]\n".encode("utf-8"))
    [record] = YOLOBBoxParser(images).parse_records()
    assert record.labels == ["dog"]
    assert record.bboxes[0].xyxy == pytest.approx((40, 15, 60, 35))
