"""Small boxes get a remedy: a larger size when the images have the detail (and --time can
afford it), else smaller anchors; said in one line, kept in the checkpoint, used by predict."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from efficientdet_adapter.records.bbox import BBox
from efficientdet_adapter.base.errors import OptionError
from efficientdet_adapter.records.record import Record
from efficientdet_adapter.app.runs import TrainOptions
from efficientdet_adapter.training.small_boxes import SMALL_BOX_CHOICES, remedy_small_boxes, small_share

REPO = Path(__file__).resolve().parents[1]


def records(side: int, box_sides: list[int], n: int = 4) -> list[Record]:
    """``n`` images of ``side`` px, each with square boxes of ``box_sides`` px."""
    out = []
    for i in range(n):
        boxes = [BBox.from_xyxy(10 + 40 * j, 10 + 40 * j, 10 + 40 * j + s, 10 + 40 * j + s)
                 for j, s in enumerate(box_sides)]
        out.append(Record(record_id=i, filepath=None, width=side, height=side, bboxes=boxes,
                          labels=["a"] * len(boxes)))
    return out


def test_small_share_counts_boxes_below_the_smallest_anchor():
    share, n, smallest = small_share(records(256, [4, 10, 30, 40]), "tf_efficientdet_lite0", 256)
    assert (share, n, smallest) == (0.5, 16, 24.0)  # Lite0: anchor_scale 3 x 2**3


@pytest.mark.parametrize("img_side, box_sides, kwargs, expected", [
    # 4-10 px boxes in 256 px images: no larger size adds detail, so smaller anchors
    (256, [4, 6, 8, 10], {}, "anchors"),
    # 20-40 px boxes in 1024 px images are 5-10 px at 256: 768 px brings most above 24 px
    (1024, [20, 28, 34, 40], {}, 768),
    # ... but with --time, at most 4x the work a step (512 px): smaller anchors instead
    (1024, [20, 28, 34, 40], {"time": 600.0}, "anchors"),
    # most boxes above the smallest anchor: nothing to remedy
    (256, [30, 40, 50, 10], {}, None),
])
def test_remedy_table(img_side, box_sides, kwargs, expected):
    opts = TrainOptions(img_size=256, **kwargs)
    line = remedy_small_boxes(opts, records(img_side, box_sides))
    if expected is None:
        assert line is None and opts.img_size == 256 and opts.anchor_settings == {}
    elif expected == "anchors":
        assert opts.img_size == 256 and opts.anchor_settings["anchor_scale"] < 3
        assert line.startswith("small boxes: 100% of the 16 training boxes are below the "
                               "smallest anchor (24 px at --img-size 256); remedy: smaller "
                               "anchors, anchor_scale ")
    else:
        assert opts.img_size == expected and opts.anchor_settings == {}
        assert f"; remedy: --img-size {expected} (" in line and "9.0x the work a step" in line


def test_keep_and_given_anchors_leave_the_options_alone():
    small = records(256, [4, 6, 8, 10])
    opts = TrainOptions(small_boxes="keep")
    assert remedy_small_boxes(opts, small) is None and opts.anchor_settings == {}
    given = {"anchor_scale": 2.0, "aspect_ratios": [[1.0, 1.0]] * 3}
    opts = TrainOptions(anchor_settings=dict(given))
    assert remedy_small_boxes(opts, small) is None and opts.anchor_settings == given
    assert SMALL_BOX_CHOICES == ("remedy", "keep")
    with pytest.raises(OptionError, match=r"small_boxes='tiny' \(a str\): pass remedy or keep"):
        TrainOptions(small_boxes="tiny")


def write_small_box_export(root: Path) -> Path:
    """A COCO export of 256 px images with 4-10 px bright squares (one class)."""
    rng = np.random.default_rng(0)
    for split, n in (("train", 8), ("valid", 2), ("test", 2)):
        folder = root / split
        folder.mkdir(parents=True)
        images, annotations = [], []
        for i in range(n):
            pixels = np.full((256, 256, 3), 30, np.uint8)
            for j in range(6):
                side = int(rng.integers(4, 11))
                x, y = (int(v) for v in rng.integers(0, 256 - side, 2))
                pixels[y:y + side, x:x + side] = 230
                annotations.append({"id": len(annotations), "image_id": i, "category_id": 1,
                                    "bbox": [x, y, side, side], "area": side * side,
                                    "iscrowd": 0})
            Image.fromarray(pixels).save(folder / f"img{i}.png")
            images.append({"id": i, "file_name": f"img{i}.png", "width": 256, "height": 256})
        coco = {"images": images, "annotations": annotations,
                "categories": [{"id": 0, "name": "dots"}, {"id": 1, "name": "dot"}]}
        (folder / "_annotations.coco.json").write_text(json.dumps(coco))
    return root


def run(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "EFFICIENTDET_ADAPTER_OFFLINE": "1",
           "PYTHONPATH": str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    return subprocess.run([sys.executable, "-m", "efficientdet_adapter", *args], env=env,
                          capture_output=True, text=True, timeout=600)


@pytest.mark.slow
def test_train_says_the_remedy_keeps_it_and_predict_uses_it(tmp_path):
    from effdet.anchors import Anchors

    from efficientdet_adapter.checkpoint import load_model

    data = write_small_box_export(tmp_path / "dots")
    out = tmp_path / "run"
    proc = run("train", "--data", str(data), "--out", str(out), "--epochs", "1", "--batch-size",
               "4", "--threads", "1", "--progress", "lines")
    assert proc.returncode == 0, proc.stderr[-3000:]
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("small boxes: ")]
    assert len(lines) == 1 and "; remedy: smaller anchors, anchor_scale " in lines[0]
    assert "as the images are no larger" in lines[0]
    options = torch.load(out / "model.pt", weights_only=True)["extra"]["options"]
    fitted = options["anchor_settings"]
    assert fitted["anchor_scale"] < 3 and options["img_size"] == 256
    for name in ("model.pt", "last.pt"):
        model, _, config = load_model(out / name)  # what predict, eval and export build
        assert config.effdet_kwargs == fitted, name
        expected = Anchors(3, 7, 3, [tuple(r) for r in fitted["aspect_ratios"]],
                           fitted["anchor_scale"], (256, 256))
        assert torch.equal(model.anchors.boxes, expected.boxes), name
    preds = tmp_path / "preds"
    proc = run("predict", str(data / "test"), "--checkpoint", str(out / "model.pt"), "--out",
               str(preds), "--no-images", "--threshold", "0.0", "--device", "cpu")
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert len(json.loads((preds / "images.json").read_text())) == 2
