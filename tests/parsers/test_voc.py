"""VOCParser: real samples, Roboflow's 1-based coordinates, and bad or hostile XML."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from PIL import Image

from efficientdet_adapter.records.class_map import ClassMap
from efficientdet_adapter.base.errors import ParseError
from efficientdet_adapter.parsers import FixedSplitter, SingleSplitSplitter, VOCParser
from efficientdet_adapter.parsers.base import CLIPPED_BOX, DROPPED_BOX, MISSING_IMAGE
from efficientdet_adapter.parsers.voc import read_voc_xml, voc_to_xyxy


COORDS = ("xmin", "ymin", "xmax", "ymax")


def expected_from_xml(xml_dir: Path) -> dict[str, dict]:
    """The samples read independently with the stdlib (trusted files), coordinates minus 1."""
    out = {}
    for path in sorted(xml_dir.glob("*.xml")):
        root = ET.parse(path).getroot()
        objects = root.findall("object")
        out[Path(root.findtext("filename")).stem] = {
            "filename": root.findtext("filename"),
            "size": (int(root.findtext("size/width")), int(root.findtext("size/height"))),
            "labels": [o.findtext("name") for o in objects],
            "boxes": [
                tuple(float(o.findtext(f"bndbox/{c}")) - 1 for c in COORDS) for o in objects
            ],
        }
    return out


@pytest.mark.parametrize(
    "folder, ann, imgs, num_records, num_classes",
    [("voc", "Annotations", "JPEGImages", 2, 3), ("fridge", "annotations", "images", 6, 4)],
)
def test_samples_parse_to_the_files_values(samples_dir, folder, ann, imgs, num_records,
                                           num_classes):
    ann_dir, img_dir = samples_dir / folder / ann, samples_dir / folder / imgs
    expected = expected_from_xml(ann_dir)
    parser = VOCParser(ann_dir, img_dir)
    (records,) = parser.parse(SingleSplitSplitter())
    assert len(records) == len(expected) == num_records
    names = sorted({n for e in expected.values() for n in e["labels"]})
    assert len(names) == num_classes
    assert parser.class_map.get_classes() == ["background"] + names
    for r in records:
        e = expected[r.record_id]
        assert r.filepath == img_dir / e["filename"]
        assert (r.width, r.height) == e["size"]
        assert r.labels == e["labels"]
        assert [b.xyxy for b in r.bboxes] == e["boxes"]
        assert r.label_ids == [names.index(n) + 1 for n in e["labels"]]
        assert r.iscrowds is None and r.areas is None
    assert parser.report.total == 0


def test_sample_spot_values_checked_by_hand(samples_dir):
    parser = VOCParser(samples_dir / "voc/Annotations", samples_dir / "voc/JPEGImages")
    (records,) = parser.parse(FixedSplitter([["2007_000063", "2011_003353"]]))
    dog_chair, person = records
    # 2007_000063.xml: dog 123 115 379 275, chair 75 1 428 375 in a 500x375 image
    assert dog_chair.labels == ["dog", "chair"]
    assert (dog_chair.width, dog_chair.height) == (500, 375)
    assert dog_chair.bboxes[0].xyxy == (122.0, 114.0, 378.0, 274.0)
    assert dog_chair.bboxes[1].xyxy == (74.0, 0.0, 427.0, 374.0)
    # 2011_003353.xml writes a decimal ymin (45.70000076293945); it stays a decimal
    assert person.labels == ["person"] and person.bboxes[0].ymin == pytest.approx(44.7)


def test_check_images_agrees_with_the_sample_sizes(samples_dir):
    parser = VOCParser(samples_dir / "fridge/annotations", samples_dir / "fridge/images",
                           check_images=True)
    parser.parse()
    assert parser.report.total == 0


def voc_xml(filename="img.jpg", size=(64, 48), objects=(("cat", (11, 21, 41, 46)),),
            header="") -> str:
    size_xml = f"<size><width>{size[0]}</width><height>{size[1]}</height><depth>3</depth></size>" \
        if size else ""
    objs = "".join(
        f"<object><name>{n}</name><bndbox><xmin>{b[0]}</xmin><ymin>{b[1]}</ymin>"
        f"<xmax>{b[2]}</xmax><ymax>{b[3]}</ymax></bndbox></object>"
        for n, b in objects
    )
    return f"{header}<annotation><filename>{filename}</filename>{size_xml}{objs}</annotation>"


def make_voc(tmp_path: Path, files: dict[str, str], images=("img.jpg",), size=(64, 48)) -> Path:
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    for name in images:
        Image.new("RGB", size).save(tmp_path / name)
    return tmp_path


def test_roboflow_decimal_coordinates_match_coco_boxes(tmp_path):
    # Roboflow writes COCO's [x, y, w, h] = [10.5, 20.25, 30, 25] as x+1, y+1, x+w+1, y+h+1
    x, y, w, h = 10.5, 20.25, 30.0, 25.0
    box = (x + 1, y + 1, x + w + 1, y + h + 1)
    make_voc(tmp_path, {"img.xml": voc_xml(objects=[("cat", box)])})
    ((r,),) = VOCParser(tmp_path, tmp_path).parse(SingleSplitSplitter())
    assert r.bboxes[0].xyxy == (x, y, x + w, y + h)
    ((r0,),) = VOCParser(tmp_path, tmp_path, one_based=False).parse(SingleSplitSplitter())
    assert r0.bboxes[0].xyxy == box


@pytest.mark.parametrize("one_based, offset", [(True, 1.0), (False, 0.0)])
def test_voc_to_xyxy(one_based, offset):
    assert voc_to_xyxy("3", 4.5, 10, 20, one_based=one_based) == (
        3 - offset, 4.5 - offset, 10 - offset, 20 - offset)


def test_missing_size_comes_from_the_image_header(tmp_path):
    make_voc(tmp_path, {"img.xml": voc_xml(size=None)}, size=(50, 40))
    ((r,),) = VOCParser(tmp_path, tmp_path).parse(SingleSplitSplitter())
    assert (r.width, r.height) == (50, 40)
    assert r.bboxes[0].xyxy == (10.0, 20.0, 40.0, 40.0)  # ymax 45 clipped to the header's 40


def test_out_of_image_boxes_are_clipped_or_dropped_and_counted(tmp_path):
    objects = [("cat", (0, 1, 30, 30)), ("dog", (70, 60, 90, 80)), ("owl", (5, 5, 70, 40))]
    make_voc(tmp_path, {"img.xml": voc_xml(objects=objects)})
    parser = VOCParser(tmp_path, tmp_path)
    ((r,),) = parser.parse(SingleSplitSplitter())
    assert r.labels == ["cat", "owl"]
    assert [b.xyxy for b in r.bboxes] == [(0.0, 0.0, 29.0, 29.0), (4.0, 4.0, 64.0, 39.0)]
    assert parser.report.counts == {CLIPPED_BOX: 2, DROPPED_BOX: 1}
    assert parser.report.items[DROPPED_BOX] == [
        "img.jpg box 1 (dog) (69, 59, 89, 79) in a 64x48 image"
    ]
    with pytest.raises(ParseError, match=r"img\.jpg box 0 \(cat\) \(-1, 0, 29, 29\)"):
        VOCParser(tmp_path, tmp_path).parse(autofix=False)


def test_missing_image_is_dropped_and_counted(tmp_path):
    make_voc(tmp_path, {"a.xml": voc_xml(), "b.xml": voc_xml(filename="gone.jpg")})
    parser = VOCParser(tmp_path, tmp_path)
    (records,) = parser.parse(SingleSplitSplitter())
    assert [r.record_id for r in records] == ["img"]
    assert parser.report.counts == {MISSING_IMAGE: 1}
    assert parser.report.items[MISSING_IMAGE] == [str(tmp_path / "gone.jpg")]


def test_given_class_map_and_unknown_names(tmp_path):
    make_voc(tmp_path, {"img.xml": voc_xml(objects=[("cat", (2, 2, 9, 9)), ("emu", (2, 2, 9, 9))])})
    parser = VOCParser(tmp_path, tmp_path, ClassMap(["emu", "cat"]))
    ((r,),) = parser.parse(SingleSplitSplitter())
    assert r.label_ids == [2, 1]
    with pytest.raises(ParseError, match=r"not in the class map: \['cat', 'emu'\]"):
        VOCParser(tmp_path, tmp_path, ClassMap(["dog"])).parse()


def test_two_files_for_one_image_is_an_error(tmp_path):
    make_voc(tmp_path, {"a.xml": voc_xml(), "b.xml": voc_xml()})
    with pytest.raises(ParseError, match=r"b\.xml and .*a\.xml both annotate an image named 'img'"):
        VOCParser(tmp_path, tmp_path).parse()


BILLION_LAUGHS = """<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>
<annotation><filename>img.jpg</filename><object><name>&lol3;</name><bndbox><xmin>1</xmin>
<ymin>1</ymin><xmax>5</xmax><ymax>5</ymax></bndbox></object></annotation>"""

XXE = """<?xml version="1.0"?>
<!DOCTYPE a [<!ENTITY secret SYSTEM "file:///etc/passwd">]>
<annotation><filename>&secret;</filename></annotation>"""


@pytest.mark.parametrize(
    "text, message",
    [
        ("<annotation><filename>img.jpg</filename>", r"a\.xml: malformed XML"),
        ("", r"a\.xml: malformed XML"),
        (BILLION_LAUGHS, r"a\.xml: XML entities.*never expanded"),
        (XXE, r"a\.xml: XML entities.*never expanded"),
        ("<html><filename>img.jpg</filename></html>", r"a\.xml: root element is <html>"),
        (voc_xml(filename=""), r"a\.xml: <filename> is missing"),
        (voc_xml(objects=[("", (1, 1, 5, 5))]), r"a\.xml, object 0 \(None\): <name> is missing"),
        (voc_xml(objects=[("cat", (1, 1, 5, 5)), ("dog", (1, 1, "", 5))]),
         r"a\.xml, object 1 \('dog'\): <xmax> is missing"),
        (voc_xml(objects=[("cat", (1, "abc", 5, 5))]),
         r"a\.xml, object 0 \('cat'\): <ymin> is 'abc', not a number"),
        (voc_xml(objects=[("cat", (1, 1, "nan", 5))]), r"<xmax> is 'nan', not a finite number"),
        ("<annotation><filename>img.jpg</filename><object><name>cat</name></object></annotation>",
         r"a\.xml, object 0 \('cat'\): <bndbox> is missing"),
        (voc_xml(size=("wide", 48)), r"a\.xml <size>: <width> is 'wide'"),
        (voc_xml(filename="../../etc/passwd"), r"a\.xml: image file name '\.\./\.\./etc/passwd'"),
        (voc_xml(filename="/etc/passwd"), r"a\.xml: image file name '/etc/passwd' points outside"),
    ],
)
def test_bad_xml_is_a_parse_error_naming_file_and_object(tmp_path, text, message):
    make_voc(tmp_path, {"a.xml": text})
    with pytest.raises(ParseError, match=message):
        VOCParser(tmp_path, tmp_path).parse()


def test_missing_annotations_folder(tmp_path):
    with pytest.raises(ParseError, match="annotations folder not found"):
        VOCParser(tmp_path / "nope", tmp_path)


def test_read_voc_xml_and_parser_length(tmp_path):
    make_voc(tmp_path, {"a.xml": voc_xml(), "b.XML": voc_xml(filename="two.jpg"), "c.txt": "x"})
    parser = VOCParser(tmp_path, tmp_path)
    assert len(parser) == 2 and [p.name for p in parser] == ["a.xml", "b.XML"]
    r = read_voc_xml(tmp_path / "b.XML", tmp_path)
    assert (r.record_id, r.filepath, r.labels) == ("two", tmp_path / "two.jpg", ["cat"])
