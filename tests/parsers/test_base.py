"""Parser base class: IceVision's custom-parser protocol, class maps, autofix and the report."""

from __future__ import annotations

import gc
import logging
import os
import re
from pathlib import Path

import pytest
from PIL import Image

from efficientdet_adapter.records.bbox import BBox
from efficientdet_adapter.records.class_map import ClassMap
from efficientdet_adapter.base.errors import ParseError
from efficientdet_adapter.parsers import (
    AbortParseRecord,
    FixedSplitter,
    Parser,
    ParseReport,
    SingleSplitSplitter,
)
from efficientdet_adapter.parsers import _paths
from efficientdet_adapter.parsers.base import (
    CLIPPED_BOX,
    DROPPED_BOX,
    EXIF_ROTATION,
    NONFINITE_BOX,
    RESIZED,
    MISSING_IMAGE,
    SIZE_MISMATCH,
    SKIPPED_RECORD,
    UNREADABLE_IMAGE,
    progress,
)
from efficientdet_adapter.parsers._paths import FolderListing, safe_join
from efficientdet_adapter.records.record import ImgSize, Record


def write_jpeg(path: Path, size=(64, 48), orientation: int | None = None) -> Path:
    img = Image.new("RGB", size, (90, 120, 30))
    if orientation is None:
        img.save(path)
    else:
        exif = Image.Exif()
        exif[0x0112] = orientation
        img.save(path, exif=exif)
    return path


class RowsParser(Parser):
    """A custom parser written the IceVision way: one row per box, several rows per image."""

    def __init__(self, rows, img_dir, class_map=None, **kwargs):
        super().__init__(class_map, **kwargs)
        self.rows, self.img_dir = rows, Path(img_dir)
        self.first_items: list[str] = []

    def __iter__(self):
        return iter(self.rows)

    def __len__(self):
        return len(self.rows)

    def record_id(self, o):
        return o["file"]

    def parse_fields(self, o, record, is_new):
        if o.get("abort"):
            raise AbortParseRecord("marked as broken")
        if is_new:
            self.first_items.append(o["file"])
            record.set_filepath(self.img_dir / o["file"])
            record.set_img_size(ImgSize(width=o.get("w", 64), height=o.get("h", 48)))
        record.detection.add_labels([o["label"]])
        record.detection.add_bboxes([BBox.from_xyxy(*o["box"])])
        if "crowd" in o:
            record.detection.add_iscrowds([o["crowd"]])
            record.detection.add_areas([o["area"]])


@pytest.fixture
def img_dir(tmp_path: Path) -> Path:
    d = tmp_path / "imgs"
    d.mkdir()
    for name in ("a.jpg", "b.jpg", "c.jpg"):
        write_jpeg(d / name)
    return d


ROWS = [
    {"file": "a.jpg", "label": "dog", "box": (1, 2, 30, 40)},
    {"file": "b.jpg", "label": "cat", "box": (5, 5, 20, 20)},
    {"file": "a.jpg", "label": "cat", "box": (10, 10, 60, 44)},
    {"file": "c.jpg", "label": "dog", "box": (0, 0, 64, 48)},
]


def test_custom_parser_merges_items_by_record_id(img_dir):
    parser = RowsParser(ROWS, img_dir)
    (records,) = parser.parse(SingleSplitSplitter())
    assert [r.record_id for r in records] == ["a.jpg", "b.jpg", "c.jpg"]
    assert parser.first_items == ["a.jpg", "b.jpg", "c.jpg"]  # is_new once per record
    a = records[0]
    assert a.labels == ["dog", "cat"]
    assert [b.xyxy for b in a.bboxes] == [(1.0, 2.0, 30.0, 40.0), (10.0, 10.0, 60.0, 44.0)]
    # no class map given: the names found, sorted, after the background
    assert parser.class_map.get_classes() == ["background", "cat", "dog"]
    assert a.label_ids == [2, 1] and a.class_map is parser.class_map
    assert (a.width, a.height, a.filepath) == (64, 48, img_dir / "a.jpg")
    assert parser.report.total == 0 and parser.report.summary() == "no fixes"


def test_custom_parser_with_icevision_two_argument_parse_fields(img_dir):
    class OldStyle(RowsParser):
        def parse_fields(self, o, record):  # IceVision < 0.12 signature
            super().parse_fields(o, record, not record.labels)

    (records,) = OldStyle(ROWS, img_dir).parse(SingleSplitSplitter())
    assert [len(r.bboxes) for r in records] == [2, 1, 1]


def test_given_class_map_order_is_kept_and_unknown_names_are_listed(img_dir):
    cm = ClassMap(["dog", "cat"])
    parser = RowsParser(ROWS, img_dir, class_map=cm)
    (records,) = parser.parse(SingleSplitSplitter())
    assert parser.class_map is cm and records[0].label_ids == [1, 2]

    rows = ROWS + [{"file": "b.jpg", "label": "zebra", "box": (1, 1, 5, 5)},
                   {"file": "c.jpg", "label": "owl", "box": (1, 1, 5, 5)}]
    with pytest.raises(ParseError, match=r"2 class name\(s\).*\['owl', 'zebra'\]"):
        RowsParser(rows, img_dir, class_map=ClassMap(["dog", "cat"])).parse()


def test_class_map_assigned_in_init_the_icevision_way(img_dir):
    class Assigns(RowsParser):
        def __init__(self, *a):
            super().__init__(*a)
            self.class_map = ClassMap(["dog", "cat", "bird"])

    parser = Assigns(ROWS, img_dir)
    parser.parse()
    assert parser.class_map.get_classes() == ["background", "dog", "cat", "bird"]


def test_abort_parse_record_skips_and_counts(img_dir):
    rows = ROWS + [{"file": "b.jpg", "abort": True}]
    parser = RowsParser(rows, img_dir)
    (records,) = parser.parse(SingleSplitSplitter())
    assert [r.record_id for r in records] == ["a.jpg", "c.jpg"]
    assert parser.report.counts == {SKIPPED_RECORD: 1}
    assert "'b.jpg'" in parser.report.items[SKIPPED_RECORD][0]


def test_default_split_is_random_80_20_seed_42(img_dir):
    rows = [{"file": f"{i}.jpg", "label": "dog", "box": (1, 1, 9, 9)} for i in range(10)]
    for i in range(10):
        write_jpeg(img_dir / f"{i}.jpg")
    parser = RowsParser(rows, img_dir)
    train, valid = parser.parse()
    assert (len(train), len(valid)) == (8, 2)
    import numpy as np

    order = np.random.RandomState(42).permutation(10)
    assert [r.record_id for r in train + valid] == [f"{i}.jpg" for i in order]


@pytest.mark.parametrize(
    "box, reason, expected",
    [
        ((-5, 2, 30, 40), CLIPPED_BOX, (0.0, 2.0, 30.0, 40.0)),
        ((10, 10, 70, 50), CLIPPED_BOX, (10.0, 10.0, 64.0, 48.0)),
        ((70, 10, 90, 20), DROPPED_BOX, None),  # entirely right of the image
        ((10, 10, 10, 20), DROPPED_BOX, None),  # zero width
        ((30, 10, 20, 20), DROPPED_BOX, None),  # xmin > xmax
        ((float("nan"), 1, 5, 5), NONFINITE_BOX, None),  # NaN/inf: dropped, never clipped
        ((1, 1, float("inf"), 5), NONFINITE_BOX, None),
    ],
)
def test_autofix_clips_or_drops_boxes_and_counts_them(img_dir, box, reason, expected):
    rows = [
        {"file": "a.jpg", "label": "dog", "box": (1, 1, 9, 9), "crowd": False, "area": 64.0},
        {"file": "a.jpg", "label": "cat", "box": box, "crowd": True, "area": 5.0},
        {"file": "a.jpg", "label": "owl", "box": (2, 2, 8, 8), "crowd": False, "area": 36.0},
    ]
    parser = RowsParser(rows, img_dir)
    ((r,),) = parser.parse(SingleSplitSplitter())
    assert parser.report.counts == {reason: 1}
    assert parser.report.items[reason][0].startswith("a.jpg box 1 (cat)")
    if expected is None:  # the box goes, with its label, iscrowd and area
        assert r.labels == ["dog", "owl"] and r.label_ids == [2, 3]
        assert r.iscrowds == [False, False] and r.areas == [64.0, 36.0]
        assert [b.xyxy for b in r.bboxes] == [(1.0, 1.0, 9.0, 9.0), (2.0, 2.0, 8.0, 8.0)]
    else:
        assert r.bboxes[1].xyxy == expected and r.labels == ["dog", "cat", "owl"]
        assert r.iscrowds == [False, True, False]

    pattern = "not a finite number" if reason == NONFINITE_BOX else "64x48 image"
    with pytest.raises(ParseError, match=rf"a\.jpg box 1 \(cat\).*{pattern}"):
        RowsParser(rows, img_dir).parse(autofix=False)


def test_missing_image_is_dropped_and_counted(img_dir):
    rows = ROWS + [{"file": "gone.jpg", "label": "dog", "box": (1, 1, 5, 5)}]
    parser = RowsParser(rows, img_dir)
    splits = parser.parse(FixedSplitter([["gone.jpg", "a.jpg"], ["b.jpg", "c.jpg"]]))
    assert [[r.record_id for r in s] for s in splits] == [["a.jpg"], ["b.jpg", "c.jpg"]]
    assert parser.report.counts == {MISSING_IMAGE: 1}
    assert parser.report.items[MISSING_IMAGE] == [str(img_dir / "gone.jpg")]

    with pytest.raises(ParseError, match=r"gone\.jpg: image file not found"):
        RowsParser(rows, img_dir).parse(autofix=False)


def test_one_directory_listing_per_folder(img_dir, monkeypatch):
    calls = []
    real = os.listdir

    def counting(path="."):
        calls.append(path)
        return real(path)

    monkeypatch.setattr(_paths.os, "listdir", counting)
    rows = [{"file": f"{n}.jpg", "label": "dog", "box": (1, 1, 5, 5)} for n in "abcxyz"]
    parser = RowsParser(rows, img_dir)
    (records,) = parser.parse(SingleSplitSplitter())
    assert calls == [str(img_dir)]
    assert len(records) == 3 and parser.report.counts == {MISSING_IMAGE: 3}


@pytest.mark.parametrize("autofix", [True, False])
def test_label_box_count_mismatch_is_always_an_error(img_dir, autofix):
    class Mismatch(RowsParser):
        def parse_fields(self, o, record, is_new):
            super().parse_fields(o, record, is_new)
            record.add_labels(["dog"])

    with pytest.raises(ParseError, match=r"a\.jpg: 2 labels for 1 boxes"):
        Mismatch(ROWS[:1], img_dir).parse(autofix=autofix)


def test_record_without_size_reads_the_image_header(img_dir):
    write_jpeg(img_dir / "big.jpg", size=(100, 80))

    class NoSize(RowsParser):
        def parse_fields(self, o, record, is_new):
            record.set_filepath(self.img_dir / o["file"])
            record.add_labels([o["label"]])
            record.add_bboxes([BBox.from_xyxy(*o["box"])])

    parser = NoSize([{"file": "big.jpg", "label": "dog", "box": (10, 10, 95, 90)}], img_dir)
    ((r,),) = parser.parse(SingleSplitSplitter())
    assert (r.width, r.height) == (100, 80)
    assert r.bboxes[0].xyxy == (10.0, 10.0, 95.0, 80.0)  # clipped to the header's size
    assert parser.report.counts == {CLIPPED_BOX: 1}


@pytest.mark.parametrize(
    "stored, orientation, annotated, reason, box",
    [
        # annotated on the raw grid, loads rotated: the box turns with the pixels
        ((64, 32), 6, (64, 32), EXIF_ROTATION, (1, 2, 30, 63)),
        ((64, 32), 8, (64, 32), EXIF_ROTATION, (2, 1, 31, 62)),
        ((64, 32), 6, (32, 64), None, (2, 2, 31, 63)),  # annotated as displayed: consistent
        ((64, 32), 3, (64, 32), None, (2, 2, 63, 31)),  # 180 degrees keeps width/height
        ((64, 32), None, (32, 16), RESIZED, (4, 4, 62, 30)),  # same aspect: scaled
        ((64, 32), None, (60, 32), SIZE_MISMATCH, None),  # another aspect: dropped
        ((64, 32), None, (64, 32), None, (2, 2, 63, 31)),
    ],
)
def test_check_images_fixes_size_and_exif_problems_by_one_rule(tmp_path, stored, orientation,
                                                               annotated, reason, box):
    write_jpeg(tmp_path / "r.jpg", size=stored, orientation=orientation)
    w, h = annotated
    rows = [{"file": "r.jpg", "label": "dog", "box": (2, 2, w - 1, h - 1), "w": w, "h": h}]
    parser = RowsParser(rows, tmp_path, check_images=True)
    (records,) = parser.parse(SingleSplitSplitter())
    if reason is None:
        assert parser.report.total == 0
    else:
        assert parser.report.counts == {reason: 1}
        message = parser.report.items[reason][0]
        assert "r.jpg" in message and f"{w}x{h}" in message
    if reason == SIZE_MISMATCH:
        assert records == []
        assert "another aspect ratio" in message and "--check-images" in message
    else:
        [r] = records
        assert r.bboxes[0].xyxy == box
        loaded = Image.open(tmp_path / "r.jpg")
        from PIL import ImageOps

        assert (r.width, r.height) == ImageOps.exif_transpose(loaded).size
    if reason == EXIF_ROTATION:
        assert f"EXIF orientation {orientation}" in message and "#1096" in message
    if reason is not None:
        with pytest.raises(ParseError, match="EXIF" if reason == EXIF_ROTATION else "image"):
            RowsParser(rows, tmp_path, check_images=True).parse(autofix=False)
    # without check_images nothing is opened at parse time (the batches check it instead)
    quiet = RowsParser(rows, tmp_path)
    quiet.parse()
    assert quiet.report.total == 0


def test_header_of_a_decompression_bomb_names_the_file(tmp_path):
    from efficientdet_adapter.parsers.base import UNREADABLE_IMAGE

    write_png_header(tmp_path / "huge.png", 30000, 30000)
    rows = [{"file": "huge.png", "label": "dog", "box": (1, 1, 5, 5), "w": 30000, "h": 30000}]
    parser = RowsParser(rows, tmp_path, check_images=True)
    assert parser.parse(SingleSplitSplitter()) == [[]]
    assert parser.report.counts == {UNREADABLE_IMAGE: 1}
    assert re.search(r"huge\.png: cannot read the image header .*decompression bomb.*"
                     r"MAX_IMAGE_PIXELS", parser.report.items[UNREADABLE_IMAGE][0])


def write_png_header(path: Path, width: int, height: int) -> Path:
    """A PNG that declares ``width`` x ``height`` pixels and holds almost none (a bomb header)."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr)
                     + chunk(b"IDAT", zlib.compress(b"\0" * 16)) + chunk(b"IEND", b""))
    return path


@pytest.mark.parametrize("check_images, size", [(True, (64, 48)), (False, (0, 0))])
def test_unreadable_image_header_is_dropped_and_counted(img_dir, check_images, size):
    (img_dir / "bad.jpg").write_bytes(b"not a jpeg")
    rows = ROWS + [{"file": "bad.jpg", "label": "dog", "box": (1, 1, 5, 5),
                    "w": size[0], "h": size[1]}]
    parser = RowsParser(rows, img_dir, check_images=check_images)
    (records,) = parser.parse(SingleSplitSplitter())
    assert [r.record_id for r in records] == ["a.jpg", "b.jpg", "c.jpg"]
    assert parser.report.counts == {UNREADABLE_IMAGE: 1}
    assert "bad.jpg: cannot read the image header" in parser.report.items[UNREADABLE_IMAGE][0]
    with pytest.raises(ParseError, match=r"bad\.jpg: cannot read the image header"):
        RowsParser(rows, img_dir, check_images=check_images).parse(autofix=False)


def test_summary_is_logged_once(img_dir, caplog):
    rows = ROWS + [{"file": "gone.jpg", "label": "dog", "box": (1, 1, 5, 5)}]
    with caplog.at_level(logging.INFO, logger="efficientdet_adapter.parsers.base"):
        RowsParser(rows, img_dir).parse()
    (rec,) = caplog.records
    assert rec.levelno == logging.WARNING
    assert "3 records (1 dropped)" in rec.getMessage()
    assert f"1 fix: {MISSING_IMAGE} x1" in rec.getMessage()


def test_gc_state_is_restored(img_dir):
    assert gc.isenabled()
    RowsParser(ROWS, img_dir).parse()
    assert gc.isenabled()
    with pytest.raises(ParseError):
        RowsParser(ROWS, img_dir, class_map=ClassMap(["dog"])).parse()
    assert gc.isenabled()


def test_protocol_methods_must_be_implemented():
    with pytest.raises(NotImplementedError, match="must implement __iter__"):
        Parser().parse()
    with pytest.raises(TypeError, match="class_map must be a ClassMap"):
        Parser(["cat"])


def test_parse_report():
    rep = ParseReport()
    for i in range(7):
        rep.add(CLIPPED_BOX, f"img{i}.jpg box 0")
    rep.add(MISSING_IMAGE, "x.jpg")
    assert rep.counts == {CLIPPED_BOX: 7, MISSING_IMAGE: 1} and rep.total == 8
    assert rep.items[MISSING_IMAGE] == ["x.jpg"] and len(rep.items[CLIPPED_BOX]) == 7
    assert rep.summary() == f"8 fixes: {CLIPPED_BOX} x7, {MISSING_IMAGE} x1"
    text = str(rep).splitlines()
    assert text[0] == f"ParseReport: {rep.summary()}"
    assert text[1].endswith("img4.jpg box 0 (+2 more)")
    assert text[2] == f"  {MISSING_IMAGE}: 1: x.jpg"
    other = ParseReport()
    other.add(MISSING_IMAGE, "y.jpg")
    rep.update(other)
    assert rep.counts[MISSING_IMAGE] == 2 and rep.items[MISSING_IMAGE] == ["x.jpg", "y.jpg"]


@pytest.mark.parametrize(
    "name, expected",
    [
        ("a.jpg", "imgs/a.jpg"),
        ("sub/a.jpg", "imgs/sub/a.jpg"),
        ("./sub//a.jpg", "imgs/sub/a.jpg"),
        ("..a.jpg", "imgs/..a.jpg"),  # dots inside a name are fine
    ],
)
def test_safe_join_accepts_names_inside_the_folder(name, expected):
    assert safe_join(Path("imgs"), name, annotation="ann.json").as_posix() == expected
    assert safe_join(Path("imgs"), name, annotation="ann.json") == Path(expected)


@pytest.mark.parametrize(
    "name", ["../a.jpg", "sub/../../a.jpg", "/etc/passwd", "..", "..\\a.jpg", "C:\\x\\a.jpg",
             "\\\\server\\share\\a.jpg", "", "   "],
)
def test_safe_join_rejects_names_outside_the_folder(name):
    with pytest.raises(ParseError, match=r"^labels/ann\.xml: image file name"):
        safe_join(Path("imgs"), name, annotation="labels/ann.xml")


def test_folder_listing(tmp_path):
    (tmp_path / "a.jpg").write_bytes(b"x")
    listing = FolderListing()
    assert listing.exists(tmp_path / "a.jpg") and not listing.exists(tmp_path / "b.jpg")
    assert not listing.exists(tmp_path / "nope" / "a.jpg")
    assert listing.names(tmp_path) == frozenset({"a.jpg"})


def test_progress_is_quiet_unless_asked():
    items = [1, 2, 3]
    assert progress(items, total=3, desc="x", show=False) is items
    bar = progress(items, total=3, desc="x", show=True)
    from tqdm import tqdm

    assert isinstance(bar, tqdm) and list(bar) == items


def test_record_builders_match_icevision_calls():
    r = Record(record_id=1, filepath=None, width=0, height=0)
    r.set_img_size(ImgSize(width=10, height=20))
    assert r.detection is r and (r.width, r.height) == (10, 20)
