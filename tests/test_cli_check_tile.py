"""CLI: `check --data EXPORT` and `predict --tile H,W` (issue #13)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from efficientdet_adapter.app.cli import main

REAL = Path(__file__).resolve().parents[2] / "shared" / "data" / "real-exports"
needs_real = pytest.mark.skipif(not REAL.is_dir(), reason=f"shared real exports not found at {REAL}")


def run(capsys, *args: str) -> tuple[int, str, str]:
    rc = main(list(args))
    captured = capsys.readouterr()
    return rc, captured.out, captured.err


@needs_real
def test_check_prints_the_table_and_saves_the_png(capsys, tmp_path):
    png = tmp_path / "report" / "check.png"
    rc, out, err = run(capsys, "check", "--data", str(REAL / "metin2_game_tfcsv"),
                       "--img-size", "512", "--png", str(png))
    assert rc == 0, err
    assert "smallest anchor 24 px" in out
    assert any(line.split()[:5] == ["all", "114", "0", "217", "217"] for line in out.splitlines())
    assert "problem: 5 of 217 boxes are too small" in out
    assert png.read_bytes()[:4] == b"\x89PNG" and f"wrote {png}" in out


@pytest.mark.parametrize(
    "args, message",
    [
        (["check", "--data", "/no/such/export"], "--data /no/such/export: no such folder"),
        (["check", "--data", "{data}", "--png", "{data}/x.png"], "lies inside --data"),
        (["check", "--data", "{data}", "--img-size", "100"], "not a multiple of 128"),
        (["predict", "x.jpg", "--checkpoint", "c", "--out", "o", "--tile", "64,a"],
         "argument --tile: '64,a' is not a tile size"),
        (["predict", "x.jpg", "--checkpoint", "c", "--out", "o", "--overlap", "-1"],
         "argument --overlap: -1 must be at least 0"),
    ],
)
def test_bad_arguments_are_one_line(capsys, tmp_path, args, message):
    data = tmp_path / "export"
    (data / "train").mkdir(parents=True)
    args = [a.replace("{data}", str(data)) for a in args]
    rc, _, err = run(capsys, *args)
    assert rc == 2 and message in err and len(err.strip().splitlines()) == 1, err


def test_predict_with_tiles_writes_boxes_in_original_pixels(capsys, tmp_path):
    from efficientdet_adapter.checkpoint import save_checkpoint
    from efficientdet_adapter.records.class_map import ClassMap
    from efficientdet_adapter.model.model import model

    ckpt = tmp_path / "model.pt"
    cm = ClassMap(["a"])
    save_checkpoint(model(model_name="tf_efficientdet_lite0", num_classes=len(cm), img_size=128,
                          pretrained_backbone=False), ckpt, cm)
    images = tmp_path / "images"
    images.mkdir()
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 255, (200, 300, 3), dtype=np.uint8)).save(images / "big.png")
    out = tmp_path / "out"
    rc, stdout, err = run(capsys, "predict", str(images), "--checkpoint", str(ckpt), "--out",
                          str(out), "--tile", "128,128", "--overlap", "32", "--threshold", "0",
                          "--no-images")
    assert rc == 0, err
    results = json.loads((out / "predictions.json").read_text())
    assert results, "an untrained model still returns its top detections"
    boxes = np.array([r["bbox"] for r in results])  # COCO xywh in the original image
    assert (boxes[:, 0] >= 0).all() and (boxes[:, 0] + boxes[:, 2] <= 300 + 1e-3).all()
    assert (boxes[:, 1] + boxes[:, 3] <= 200 + 1e-3).all()
    assert (boxes[:, 0] + boxes[:, 2]).max() > 128  # boxes from tiles beyond the first
