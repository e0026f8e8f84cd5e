"""The synthetic demo dataset: deterministic, real JPEGs, learnable boxes, Roboflow layout."""

from __future__ import annotations

import itertools
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from efficientdet_adapter.app.cli import main
from efficientdet_adapter.app.demo import DEMO_CLASSES, demo_records, write_demo_dataset

NUM_IMAGES = 40
SPLITS = (0.7, 0.2, 0.1)


def _files(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> dict:
    root = tmp_path_factory.mktemp("demo")
    return demo_records(root, num_images=NUM_IMAGES, seed=0, splits=SPLITS)


def test_same_seed_same_bytes_other_seed_other_bytes(tmp_path):
    a = _files(write_demo_dataset(tmp_path / "a", num_images=12, seed=5, format="voc"))
    b = _files(write_demo_dataset(tmp_path / "b", num_images=12, seed=5, format="voc"))
    c = _files(write_demo_dataset(tmp_path / "c", num_images=12, seed=6, format="voc"))
    jpgs = [k for k in a if k.endswith(".jpg")]
    assert len(jpgs) == 12 and a == b
    assert len(set(a.values()) & set(c.values())) < len(a) // 4  # seed 6: other images, boxes


def test_split_sizes_follow_fractions(demo):
    sizes = {k: len(v) for k, v in demo.items()}
    valid, test = round(NUM_IMAGES * SPLITS[1]), round(NUM_IMAGES * SPLITS[2])
    assert sizes == {"train": NUM_IMAGES - valid - test, "valid": valid, "test": test}
    ids = [r.record_id for records in demo.values() for r in records]
    assert ids == list(range(NUM_IMAGES))


def test_images_are_real_jpegs_of_varied_size(demo):
    records = [r for records in demo.values() for r in records]
    sizes = set()
    for r in records:
        with Image.open(r.filepath) as im:
            assert im.format == "JPEG" and im.size == (r.width, r.height)
            im.load()
        assert 160 <= r.width <= 320 and 160 <= r.height <= 320
        sizes.add((r.width, r.height))
    assert len(sizes) > NUM_IMAGES * 0.9
    assert any(w > h for w, h in sizes) and any(h > w for w, h in sizes)


def test_negatives_overlaps_classes_and_box_geometry(demo):
    records = [r for records in demo.values() for r in records]
    negatives = [r.record_id for r in records if not r.bboxes]
    assert negatives == [i for i in range(NUM_IMAGES) if i % 10 == 5]
    assert {label for r in records for label in r.labels} == set(DEMO_CLASSES)
    overlapping = 0
    for r in records:
        assert len(r.labels) == len(r.label_ids) == len(r.bboxes)
        assert [DEMO_CLASSES[i - 1] for i in r.label_ids] == r.labels
        for b in r.bboxes:
            assert 0 <= b.xmin < b.xmax <= r.width and 0 <= b.ymin < b.ymax <= r.height
            assert max(b.width, b.height) >= 20
        for a, b in itertools.combinations(r.bboxes, 2):
            overlapping += min(a.xmax, b.xmax) > max(a.xmin, b.xmin) and min(
                a.ymax, b.ymax) > max(a.ymin, b.ymin)
    assert overlapping >= 1
    coords = [v for r in records for b in r.bboxes for v in b.xyxy]
    assert sum(not float(v).is_integer() for v in coords) > len(coords) * 0.9  # decimal boxes


def test_boxes_are_tight_around_the_shapes(demo):
    """In each lone box the shape's colour reaches all four sides; around the box it is absent."""
    checked = 0
    for r in (r for records in demo.values() for r in records if len(r.bboxes) == 1):
        img = np.asarray(Image.open(r.filepath).convert("RGB"), np.float32)
        b = r.bboxes[0]
        centre = img[int((b.ymin + b.ymax) / 2), int((b.xmin + b.xmax) / 2)]
        close = np.abs(img - centre).sum(-1) < 60  # pixels of the shape's colour
        x0, y0, x1, y1 = (int(round(v)) for v in b.xyxy)
        rows, cols = np.nonzero(close[y0:y1, x0:x1])
        # sharp star tips fade under anti-aliasing and JPEG: allow 4 px
        assert rows.min() <= 4 and cols.min() <= 4
        assert rows.max() >= y1 - y0 - 5 and cols.max() >= x1 - x0 - 5
        ring = np.zeros_like(close)
        ring[max(y0 - 6, 0):y1 + 6, max(x0 - 6, 0):x1 + 6] = True
        ring[max(y0 - 2, 0):y1 + 2, max(x0 - 2, 0):x1 + 2] = False
        assert close[ring].mean() < 0.02
        checked += 1
    assert checked >= 3


@pytest.mark.parametrize("fmt, marker", [("coco", "train/_annotations.coco.json"),
                                          ("yolo", "data.yaml"), ("csv", "valid/_annotations.csv")])
def test_write_demo_dataset_layouts_and_rerun(tmp_path, fmt, marker):
    out = write_demo_dataset(tmp_path / "d", num_images=8, format=fmt)
    assert (out / marker).is_file()
    again = write_demo_dataset(tmp_path / "d", num_images=6, format=fmt, seed=1)
    assert len([p for p in again.rglob("*.jpg")]) == 6  # the earlier demo was replaced


def test_refuses_foreign_folder_and_bad_arguments(tmp_path):
    (tmp_path / "mine" / "train").mkdir(parents=True)
    (tmp_path / "mine" / "train" / "keep.txt").write_text("user data")
    with pytest.raises(FileExistsError, match="that the demo did not write"):
        write_demo_dataset(tmp_path / "mine", num_images=4)
    assert (tmp_path / "mine" / "train" / "keep.txt").read_text() == "user data"
    with pytest.raises(ValueError, match="unknown export format 'tfrecord'"):
        write_demo_dataset(tmp_path / "x", format="tfrecord")
    with pytest.raises(ValueError, match="min_size <= max_size"):
        demo_records(tmp_path / "y", min_size=300, max_size=200)


def test_cli_data_only_writes_and_prints_summary(tmp_path, capsys):
    args = ["demo", "--data-only", "--out", str(tmp_path / "cli"), "--format", "voc"]
    assert main([*args, "--num-images", "10"]) == 0
    out = capsys.readouterr().out
    assert "wrote 10 images as a Roboflow voc export" in out
    assert "classes: circle, square, star, triangle" in out
    assert re.search(r"train +7 images .* 1 without objects", out)
    assert len(list((tmp_path / "cli").rglob("*.xml"))) == 10


def test_cli_demo_training_refuses_other_formats(tmp_path, capsys):
    assert main(["demo", "--out", str(tmp_path / "d"), "--format", "voc"]) == 2
    err = capsys.readouterr().err
    assert "--format voc: the demo trains on its COCO export; other formats need --data-only" in err
    assert not (tmp_path / "d" / "data").exists()


def test_module_entry_point_points_to_the_cli(tmp_path):
    env = {"PYTHONPATH": str(Path(__file__).resolve().parents[1]), "PATH": "/usr/bin:/bin"}
    done = subprocess.run([sys.executable, "-m", "efficientdet_adapter.app.demo", str(tmp_path)],
                          capture_output=True, text=True, env=env)
    assert done.returncode == 1
    assert "efficientdet-adapter demo --data-only --out OUT_DIR" in done.stderr
    assert list(tmp_path.iterdir()) == []


def test_cli_wrote_lines_escape_control_characters_of_paths(tmp_path, capsys):
    """A folder name with terminal escapes (ESC, BEL) reaches stdout as visible escapes only."""
    out_dir = tmp_path / "a\x1b[2Jb\x07c"
    assert main(["demo", "--data-only", "--out", str(out_dir), "--format", "coco",
                 "--num-images", "10"]) == 0
    out = capsys.readouterr().out
    assert "\x1b" not in out and "\x07" not in out
    assert "a\\x1b[2Jb\\x07c" in out
    assert (out_dir / "train").is_dir()  # the folder itself keeps its real name
