"""`check`: the dataset health report, on a tiny export with known problems and on real exports."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from efficientdet_adapter.app.check import best_anchor_iou, check_dataset, dhash
from efficientdet_adapter.base.errors import UsageError

REAL = Path(__file__).resolve().parents[2] / "shared" / "data" / "real-exports"
needs_real = pytest.mark.skipif(not REAL.is_dir(), reason=f"shared real exports not found at {REAL}")

HEADER = "filename,width,height,class,xmin,ymin,xmax,ymax\n"


def _picture(seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    small = rng.integers(0, 255, (8, 8, 3), dtype=np.uint8)
    return np.asarray(Image.fromarray(small).resize((128, 128), Image.BILINEAR))


def _export(root: Path) -> Path:
    """train: 2 annotated images, and 2 files no row names (TF CSV has no row for an image
    without boxes: the parser takes them as images without boxes); valid: 2, one the same picture as a train image (brighter, another name).
    Boxes at 128 px: 24x24 (matches), 10x10 and 30x4 (hard)."""
    rows = {
        "train": [("a.jpg", 0, [("cat", 10, 10, 34, 34), ("cat", 50, 50, 60, 60)]),
                  ("b.jpg", 1, [("dog", 5, 5, 35, 9)]),
                  ("empty.jpg", 2, [])],
        "valid": [("a_copy.jpg", 0, [("cat", 10, 10, 34, 34)]),
                  ("c.jpg", 3, [("dog", 60, 60, 100, 100)])],
    }
    for split, images in rows.items():
        folder = root / split
        folder.mkdir(parents=True)
        lines = [HEADER]
        for name, seed, boxes in images:
            img = _picture(seed)
            if name == "a_copy.jpg":
                img = np.clip(img.astype(int) + 6, 0, 255).astype(np.uint8)
            Image.fromarray(img).save(folder / name, quality=90)
            lines += [f"{name},128,128,{c},{x1},{y1},{x2},{y2}\n" for c, x1, y1, x2, y2 in boxes]
        (folder / "_annotations.csv").write_text("".join(lines))
    Image.fromarray(_picture(9)).save(root / "train" / "stray.jpg")  # named by no annotation
    return root


def test_report_on_a_tiny_export(tmp_path):
    report = check_dataset(_export(tmp_path / "export"), img_size=128)
    train, valid = report.splits
    assert (train.images, train.boxes, train.without_boxes) == (4, 3, 2)
    assert train.boxes_per_class == {"cat": 2, "dog": 1}
    assert (train.hard_to_match, valid.hard_to_match) == (2, 0)
    assert train.unannotated_files == 0 and valid.unannotated_files == 0
    assert report.smallest_anchor == 24.0
    [pair] = report.duplicates
    assert (pair.split_a, pair.file_a, pair.split_b, pair.file_b) == ("train", "a.jpg", "valid",
                                                                      "a_copy.jpg")
    assert report.imbalance == 1.5  # cat 3, dog 2
    text = report.table()
    assert "train/a.jpg ~ valid/a_copy.jpg" in text
    assert "problem: 2 of 5 boxes are too small (or too thin)" in text
    assert "2 images have no boxes" in text
    assert any(line.split()[:4] == ["train", "4", "2", "3"] for line in text.splitlines())
    png = report.save_png(tmp_path / "out" / "check.png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000


def test_larger_img_size_matches_the_small_boxes(tmp_path):
    report = check_dataset(_export(tmp_path / "export"), img_size=384)  # 10 px -> 30 px
    assert report.hard_to_match == 1  # the 30x4 box stays too thin (90x12) for any anchor


def test_missing_export_says_so(tmp_path):
    with pytest.raises(UsageError, match="no such folder or zip file"):
        check_dataset(tmp_path / "nothing")


@pytest.mark.parametrize(
    "w, h, expected",
    [(24, 24, 1.0), (12, 12, 144 / (33.6 * 16.8)), (33.6, 16.8, 1.0), (30, 4, 120 / (30 * 4 + 33.6 * 16.8 - 120))],
)
def test_best_anchor_iou_table(w, h, expected):
    from efficientdet_adapter.app.check import _anchor_shapes

    anchors, _ = _anchor_shapes("tf_efficientdet_lite0", 128)
    assert best_anchor_iou(np.array([w]), np.array([h]), anchors)[0] == pytest.approx(expected,
                                                                                       abs=1e-3)


def test_dhash_sees_content_not_size_or_brightness():
    img = _picture(0)
    small = np.asarray(Image.fromarray(img).resize((64, 64)))
    brighter = np.clip(img.astype(int) + 10, 0, 255).astype(np.uint8)
    other = _picture(1)
    assert bin(dhash(img) ^ dhash(small)).count("1") <= 2
    assert bin(dhash(img) ^ dhash(brighter)).count("1") <= 2
    assert bin(dhash(img) ^ dhash(other)).count("1") > 16


# -- the shared real exports ------------------------------------------------------------------
@needs_real
def test_brain_mri_export(tmp_path):
    report = check_dataset(REAL / "brain_mri_coco", img_size=384)
    by_split = {s.split: s for s in report.splits}
    assert {k: (s.images, s.boxes) for k, s in by_split.items()} == {
        "train": (48, 58), "valid": (7, 8), "test": (4, 6)}
    assert by_split["train"].boxes_per_class == {"abnormal": 38, "internal-capsule": 20}
    assert by_split["train"].unannotated_files == 1  # one image on disk is not in the JSON
    assert report.parse_fixes == {"category dropped: used by no box": 3}
    assert report.hard_to_match == 0
    # adjacent MRI slices of one scan sit in different splits: the same content, other names
    pairs = {(p.file_a.split("_")[0], p.file_b.split("_")[0]) for p in report.duplicates}
    assert ("48", "47") in pairs and len(report.duplicates) >= 10
    assert report.save_png(tmp_path / "brain.png").stat().st_size > 10_000


@needs_real
@pytest.mark.parametrize("img_size, hard", [(384, 42), (128, 185)])
def test_metin_export_small_boxes(img_size, hard):
    report = check_dataset(REAL / "metin2_game_tfcsv", img_size=img_size)
    assert sum(s.boxes for s in report.splits) == 217 and report.classes == ["Metin"]
    assert report.hard_to_match == hard
    assert report.duplicates == []
    assert f"{hard} of 217 boxes are too small" in report.table()


def test_docstring_examples_run(capsys):
    import doctest

    from efficientdet_adapter.app import check

    result = doctest.testmod(check, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0 and result.failed == 0, capsys.readouterr().out[-3000:]


def test_report_gives_the_best_possible_recall_of_the_train_boxes(tmp_path):
    # train boxes at 128 px: a 24x24 box 2 px off an anchor centre (IoU 0.72), a 10x10 box and a
    # 30x4 box (no anchor of Lite0, 24 px and up, reaches IoU 0.5 with either)
    report = check_dataset(_export(tmp_path / "export"), img_size=128)
    m = report.anchor_match
    assert (m.boxes, m.matched) == (3, 1) and m.share == pytest.approx(1 / 3)
    assert m.best_iou[0] == pytest.approx(22 * 22 / (2 * 24 * 24 - 22 * 22))
    assert m.level_counts() == {3: 1, 4: 0, 5: 0, 6: 0, 7: 0}
    text = report.table()
    assert ("best possible recall at --img-size 128: 33.3% (1 of 3 train boxes have an anchor "
            "with IoU >= 0.5") in text
    assert "P3 (24-38 px): 1, P4 (48-76 px): 0" in text
    assert any("--img-size auto and/or --anchors auto" in p for p in report.problems())


def test_auto_size_is_the_one_train_picks(tmp_path):
    # 128 px images: the cap is the floor, 256, where the 10x10 and 30x4 boxes (20x20, 60x8 at
    # 256) still have no anchor at IoU 0.5: the only candidate is taken
    report = check_dataset(_export(tmp_path / "export"), img_size="auto")
    assert report.img_size == 256 and report.anchor_match.img_size == 256
    assert "tf_efficientdet_lite0 at --img-size 256" in report.table().splitlines()[0]


def test_png_is_cropped_to_its_content(tmp_path):
    """The summary was 42% blank rows (a half-figure text row for four lines); now the text
    row is as tall as its lines and the margins are cropped."""
    report = check_dataset(_export(tmp_path / "export"), img_size=128)
    with Image.open(report.save_png(tmp_path / "check.png")) as im:
        gray = np.asarray(im.convert("L"))
    blank_rows = (gray >= 250).all(axis=1).mean()
    assert blank_rows < 0.2, blank_rows
    assert gray[-int(gray.shape[0] * 0.08):].min() < 128  # the problems' text reaches the bottom
