"""predict's bounds: big images refused above --max-pixels, annotated copies drawn at a bounded
size, a tile count above the limit stated, terminal control characters in names escaped."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from efficientdet_adapter.app import cli
from efficientdet_adapter.inference.image_files import DEFAULT_MAX_PIXELS, tile_count_warning
from efficientdet_adapter.pictures.show import MAX_ANNOTATED_SIDE, annotate
from efficientdet_adapter.records.predictions import Prediction

REPO = Path(__file__).resolve().parents[1]


def run(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO),
           "PYTHONWARNINGS": "ignore::FutureWarning"}
    return subprocess.run([sys.executable, "-m", "efficientdet_adapter", *args], cwd=cwd,
                          env=env, capture_output=True, text=True, timeout=300)


def test_an_image_above_max_pixels_is_refused_before_any_work(tmp_path):
    Image.new("RGB", (300, 200)).save(tmp_path / "photo.png")
    (tmp_path / "model.pt").write_bytes(b"not read: the image is refused first")
    proc = run("predict", "photo.png", "--checkpoint", "model.pt", "--out", "out",
               "--max-pixels", "50000", cwd=tmp_path)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        "efficientdet-adapter predict: error: photo.png: 300x200 = 0.1 Mpx, more than "
        "--max-pixels 50000 (0.05 Mpx); memory grows with the pixels (about 30 bytes each): "
        "raise --max-pixels to 60000 if the machine has the memory, or resize it"]
    assert not (tmp_path / "out").exists()
    assert DEFAULT_MAX_PIXELS == 50_000_000  # a 36-Mpx photo passes by default


def test_control_characters_in_a_file_name_are_escaped(tmp_path):
    (tmp_path / "model.pt").write_bytes(b"x")
    name = "evil\x1b[2J\x07name.jpg"
    proc = run("predict", name, "--checkpoint", "model.pt", "--out", "out", cwd=tmp_path)
    assert proc.returncode == 2
    assert "\x1b" not in proc.stderr and "\x07" not in proc.stderr
    assert proc.stderr.strip() == ("efficientdet-adapter predict: error: evil\\x1b[2J\\x07name.jpg: "
                                   "no such image file or folder")


def test_annotated_copies_are_drawn_at_a_bounded_size():
    img = np.full((1000, 3000, 3), 200, np.uint8)
    pred = Prediction(np.array([[1500, 400, 2400, 800]], np.float32), np.array([0.9], np.float32),
                      np.array([1]), record_id=0, img=img, width=3000, height=1000,
                      detection_threshold=0.5)
    small = annotate(pred, max_side=MAX_ANNOTATED_SIDE)
    assert small.shape == (683, 2048, 3)
    plain = np.asarray(Image.fromarray(img).resize((2048, 683)))
    changed = np.argwhere(np.any(small != plain, axis=-1))
    # the box's outline lies where the scaled box is: x 1024..1638, y 273..546 (plus its label)
    assert changed[:, 1].min() >= 1024 - 4 and changed[:, 1].max() <= 1638 + 4
    assert changed[:, 0].max() <= 546 + 4
    assert annotate(pred).shape == (1000, 3000, 3)  # no bound: the image's own size


def test_a_tile_count_above_the_limit_is_stated(tmp_path):
    Image.new("RGB", (1024, 768)).save(tmp_path / "big.png")
    Image.new("RGB", (64, 64)).save(tmp_path / "small.png")
    warning = tile_count_warning([tmp_path / "small.png", tmp_path / "big.png"], (32, 32),
                                 tile_option="--tile")
    assert warning == (f"--tile 32,32 cuts {tmp_path / 'big.png'}"
                       " (1024x768) into 1376 tiles, each predicted at the model's size (more than"
                       " 400: slow); a larger --tile means fewer")
    assert tile_count_warning([tmp_path / "big.png"], (512, 512)) is None
    assert tile_count_warning([tmp_path / "big.png"], None) is None


def test_a_tile_count_above_the_limit_is_refused_with_the_fix(tmp_path, capsys):
    """``--tile 16`` on one 1024 px image: 7,225 tiles, refused before the model is read."""
    from efficientdet_adapter.inference.tiling import check_tile_count

    Image.new("RGB", (1024, 1024)).save(tmp_path / "big.png")
    (tmp_path / "model.pt").write_bytes(b"never read")
    code = cli.main(["predict", str(tmp_path / "big.png"), "--checkpoint",
                     str(tmp_path / "model.pt"), "--out", str(tmp_path / "out"), "--tile", "16"])
    assert code == 2
    assert capsys.readouterr().err.strip().splitlines() == [
        f"efficientdet-adapter predict: error: {tmp_path / 'big.png'} (1024x1024) in 16x16 tiles "
        "is 7225 tiles, more than --max-tiles 4096 (each tile is a whole prediction); use larger "
        "tiles (32x32 gives 1849) or raise --max-tiles"]
    assert check_tile_count(1024, 1024, (16, 16), max_tiles=8000) == 7225
