"""RoboflowParser: one dataset in four export formats parses to the same records."""

from __future__ import annotations

import json
import shutil
import zipfile
from pathlib import Path

import pytest

from efficientdet_adapter import ParseError, UnsupportedFormatError
from efficientdet_adapter.app.demo import demo_class_map, demo_records
from efficientdet_adapter.parsers import RoboflowParser
from efficientdet_adapter.parsers.base import MISSING_IMAGE, UNUSED_CATEGORY
from efficientdet_adapter.parsers.roboflow import detect_format
from efficientdet_adapter.records.splitters import RandomSplitter
from efficientdet_adapter.parsers.writers import write_export

NUM_IMAGES = 60  # 42 / 12 / 6 images; negatives (i % 10 == 5) in every split


@pytest.fixture(scope="module")
def source(tmp_path_factory) -> dict:
    """The demo records: decimal boxes, overlaps, negatives; images in one folder per split."""
    return demo_records(tmp_path_factory.mktemp("src"), num_images=NUM_IMAGES, seed=1)


def _zip_folder(folder: Path, zip_path: Path) -> Path:
    with zipfile.ZipFile(zip_path, "w") as zf:
        for p in sorted(folder.rglob("*")):
            zf.write(p, p.relative_to(folder).as_posix())
    return zip_path


def _by_name(records):
    return {r.filepath.name: r for r in records}


@pytest.mark.parametrize(
    "fmt, zipped, tolerance",
    [("coco", False, 1e-9), ("voc", False, 1e-9), ("yolo", True, 1e-9), ("csv", False, 0.0)],
)
def test_four_formats_parse_to_the_same_records(source, tmp_path, fmt, zipped, tolerance):
    export = write_export(source, tmp_path / fmt, format=fmt)
    path = _zip_folder(export, tmp_path / f"shapes.{fmt}.zip") if zipped else export
    parser = RoboflowParser(path)
    splits = parser.parse()
    assert parser.format == fmt and parser.split_names == ["train", "valid", "test"]
    assert parser.class_map == demo_class_map()
    assert [len(s) for s in splits] == [len(source[k]) for k in ("train", "valid", "test")]
    assert len(parser) == NUM_IMAGES
    ids = [r.record_id for split in splits for r in split]
    assert ids == list(range(NUM_IMAGES))  # unique over the whole export
    for name, parsed in zip(parser.split_names, splits):
        expected, got = _by_name(source[name]), _by_name(parsed)
        assert list(got) == list(expected)  # same images, same (file name) order
        for file_name, want in expected.items():
            have = got[file_name]
            assert (have.width, have.height) == (want.width, want.height)
            assert have.labels == want.labels and have.label_ids == want.label_ids
            assert len(have.bboxes) == len(want.bboxes)
            for a, b in zip(have.bboxes, want.bboxes):
                assert a.xyxy == pytest.approx(b.xyxy, abs=tolerance, rel=0)
    negatives = sum(not r.bboxes for split in splits for r in split)
    assert negatives == sum(not r.bboxes for s in source.values() for r in s) == NUM_IMAGES // 10
    if zipped:
        assert parser.root == tmp_path / f"shapes.{fmt}"  # extracted beside the zip
        assert RoboflowParser(path).root == parser.root  # and reused, not extracted twice


def test_coco_group_category_dropped_and_reported_kept_when_used(source, tmp_path):
    export = write_export(source, tmp_path / "coco", format="coco")
    parser = RoboflowParser(export)
    parser.parse()
    assert parser.report.counts[UNUSED_CATEGORY] == 3  # one per split's JSON
    assert "'objects'" in parser.report.items[UNUSED_CATEGORY][0]
    assert parser.category_ids == {1: 1, 2: 2, 3: 3, 4: 4}
    # a box that uses the group category makes it a class (first, by category id)
    path = export / "valid" / "_annotations.coco.json"
    data = json.loads(path.read_text())
    data["annotations"][0]["category_id"] = 0
    path.write_text(json.dumps(data))
    parser = RoboflowParser(export)
    parser.parse()
    assert parser.class_map.foreground == ["objects", "circle", "square", "star", "triangle"]
    assert parser.category_ids[1] == 0 and parser.report.counts[UNUSED_CATEGORY] == 2


def test_val_folder_and_parse_splits(source, tmp_path):
    export = write_export({"train": source["train"], "val": source["valid"]}, tmp_path / "v",
                          format="voc")
    parser = RoboflowParser(export, format="pascal_voc")
    splits = parser.parse_splits()
    assert list(splits) == ["train", "valid"] == parser.split_names
    assert len(splits["valid"]) == len(source["valid"])
    assert parser.source_ids[len(source["train"])][0] == "valid"
    resplit = parser.parse(RandomSplitter([0.5, 0.5], seed=0))
    assert [len(s) for s in resplit] == [27, 27]


def test_class_order_comes_from_the_file(source, tmp_path):
    export = write_export(source, tmp_path / "y", format="yolo")
    names = ["triangle", "circle", "star", "square"]
    for label_file in export.rglob("labels/*.txt"):  # re-index the labels for the new order
        old = demo_class_map().foreground
        lines = [line.split(" ", 1) for line in label_file.read_text().splitlines()]
        label_file.write_text("".join(f"{names.index(old[int(c)])} {rest}\n" for c, rest in lines))
    (export / "data.yaml").write_text(f"train: ../train/images\nnames: {names}\n")
    parser = RoboflowParser(export)
    splits = parser.parse()
    assert parser.class_map.foreground == names  # never re-sorted
    want = _by_name(source["train"])
    for r in splits[0]:
        assert r.labels == want[r.filepath.name].labels


def test_missing_image_is_dropped_and_counted(source, tmp_path):
    export = write_export(source, tmp_path / "c", format="csv")
    gone = source["test"][0].filepath.name
    (export / "test" / gone).unlink()
    parser = RoboflowParser(export)
    train, valid, test = parser.parse()
    assert len(test) == len(source["test"]) - 1 and parser.report.counts[MISSING_IMAGE] == 1
    with pytest.raises(ParseError, match=f"{gone}: image file not found"):
        RoboflowParser(export).parse(autofix=False)


def _fake_export(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    return root


@pytest.mark.parametrize(
    "files, error, message",
    [
        ({"train/shapes.tfrecord": "x", "train/shapes_label_map.pbtxt": "x"},
         UnsupportedFormatError, "TFRecord export: not supported; export .* 'COCO JSON' or 'YOLO"),
        ({"train/cat/1.jpg": "x", "train/dog/2.jpg": "x"},
         UnsupportedFormatError, r"classification export \(one folder per class"),
        ({"train/_classes.csv": "filename, cat\n", "train/1.jpg": "x"},
         UnsupportedFormatError, r"classification export \(_classes.csv\)"),
        ({"train/_annotations.createml.json": "[]"},
         UnsupportedFormatError, "no annotation file found"),
        ({"images/a.jpg": "x"}, ParseError, "no train, valid .* or test folder"),
        ({"train/_annotations.csv": "x", "valid/a.xml": "<annotation/>"},
         ParseError, "different formats"),
    ],
)
def test_unsupported_and_unknown_exports(tmp_path, files, error, message):
    root = _fake_export(tmp_path / "export", files)
    with pytest.raises(error, match=message):
        RoboflowParser(root)


def test_retinanet_csv_export_is_refused(tmp_path):
    root = _fake_export(tmp_path / "export", {
        "train/_annotations.csv": "a.jpg,1,2,30,40,cat\n", "train/_classes.csv": "cat,0\n"})
    with pytest.raises(UnsupportedFormatError, match="RetinaNet"):
        RoboflowParser(root).parse()


def test_export_one_folder_down_and_wrong_format(source, tmp_path):
    write_export(source, tmp_path / "outer" / "shapes", format="coco")
    assert detect_format(tmp_path / "outer")[0] == "coco"
    with pytest.raises(ParseError, match="format='yolo' was asked for, but this is coco"):
        RoboflowParser(tmp_path / "outer", format="yolo")


# -- zip safety ----------------------------------------------------------------------------------
@pytest.mark.parametrize("entry", ["../evil.txt", "train/../../evil.txt", "/tmp/evil.txt",
                                   "C:/evil.txt"])
def test_zip_slip_entry_is_rejected(tmp_path, entry):
    zip_path = tmp_path / "export.zip"
    with zipfile.ZipFile(zip_path, "w") as zf:
        zf.writestr("train/_annotations.csv", "filename,width,height,class,xmin,ymin,xmax,ymax\n")
        zf.writestr(entry, "pwned")
    with pytest.raises(ParseError, match="outside the extraction folder.*zip-slip"):
        RoboflowParser(zip_path)
    assert not (tmp_path / "evil.txt").exists() and not (tmp_path / "export").exists()


def test_zip_size_and_entry_limits(tmp_path):
    zip_path = tmp_path / "big.zip"
    with zipfile.ZipFile(zip_path, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("train/_annotations.csv", "0" * 10_000)
        zf.writestr("train/a.txt", "x")
    with pytest.raises(ParseError, match="10001 bytes uncompressed, more than the limit of 5000"):
        RoboflowParser(zip_path, max_zip_bytes=5000)
    with pytest.raises(ParseError, match="2 entries, more than the limit of 1"):
        RoboflowParser(zip_path, max_zip_entries=1)
    assert not (tmp_path / "big").exists()
    bad = tmp_path / "bad.zip"
    bad.write_bytes(b"not a zip")
    with pytest.raises(ParseError, match="not a readable zip file"):
        RoboflowParser(bad)


def test_zip_does_not_overwrite_a_foreign_folder(source, tmp_path):
    export = write_export(source, tmp_path / "e", format="csv")
    zip_path = _zip_folder(export, tmp_path / "e.zip")
    with pytest.raises(ParseError, match="already exists with other content"):
        RoboflowParser(zip_path)  # tmp/e is the unzipped export, not our extraction
    parser = RoboflowParser(zip_path, extract_dir=tmp_path / "x")
    assert parser.root == tmp_path / "x" and parser.format == "csv"
    shutil.rmtree(tmp_path / "x")


# -- class names a user would not expect trouble from --------------------------------------------
def _csv_split(folder: Path, rows: list[tuple[str, str]]) -> None:
    from PIL import Image

    folder.mkdir(parents=True)
    lines = ["filename,width,height,class,xmin,ymin,xmax,ymax"]
    for name, label in rows:
        if not (folder / name).exists():
            Image.new("RGB", (64, 64)).save(folder / name)
        lines.append(f"{name},64,64,{label},4,4,30,30")
    (folder / "_annotations.csv").write_text("\n".join(lines) + "\n")


def test_class_only_in_valid_is_kept_and_reported(tmp_path):
    from efficientdet_adapter.parsers.roboflow import CLASS_NOT_IN_TRAIN

    _csv_split(tmp_path / "train", [("a.png", "cat"), ("b.png", "cat")])
    _csv_split(tmp_path / "valid", [("c.png", "cat"), ("c.png", "dog"), ("d.png", "dog")])
    parser = RoboflowParser(tmp_path)
    splits = parser.parse_splits()
    assert parser.class_map.foreground == ["cat", "dog"]
    assert [r.labels for r in splits["valid"]] == [["cat", "dog"], ["dog"]]
    assert parser.report.counts[CLASS_NOT_IN_TRAIN] == 1
    [message] = parser.report.items[CLASS_NOT_IN_TRAIN]
    assert "class 'dog' has 2 box(es) in valid but none in train" in message
    assert "cannot learn it" in message and str(tmp_path / "valid") in message


def test_a_real_class_named_background_keeps_its_name_and_own_id(tmp_path, caplog):
    _csv_split(tmp_path / "train", [("a.png", "background"), ("b.png", "cat")])
    parser = RoboflowParser(tmp_path)
    with caplog.at_level("WARNING"):
        train = parser.parse_splits()["train"]
    cm = parser.class_map
    assert cm.background == "__background__" and cm.foreground == ["background", "cat"]
    assert cm.get_by_name("background") == 1 and [r.label_ids for r in train] == [[1], [2]]
    assert any("'background'" in r.getMessage() and "'__background__'" in r.getMessage()
               for r in caplog.records)


def test_class_map_refusing_background_as_a_class_says_how(tmp_path):
    from efficientdet_adapter.records.class_map import ClassMap
    from efficientdet_adapter.base.errors import ClassMapError

    with pytest.raises(ClassMapError, match=r"'background' is also the name of the id-0 .*"
                                            r"background=background_for\(classes\)"):
        ClassMap(["background", "cat"])
    assert ClassMap.from_names(["cat", "background"]).foreground == ["background", "cat"]
