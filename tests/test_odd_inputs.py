"""Odd inputs end in one line naming the file: a 400 Mpx PNG of 1.2 MB is refused by its header
like a 144 Mpx one, a FIFO named like an image is called a FIFO (and never opened: that would
hang), a symbolic link loop among the images is named, not a traceback."""

from __future__ import annotations

import os
import struct
import zlib
from pathlib import Path

import pytest
from PIL import Image

from efficientdet_adapter.app import cli
from efficientdet_adapter.base.errors import ImageLoadError
from efficientdet_adapter.records.images import (check_pixels, header_pixels, image_size,
                                         list_image_files, open_img)


def _blank_png(path: Path, width: int, height: int) -> Path:
    """A 1-bit PNG of any size: a header and zlib-compressed zero rows (kilobytes on disk)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))

    packer = zlib.compressobj(9)
    row = b"\0" * (1 + (width + 7) // 8)
    body = b"".join(packer.compress(row) for _ in range(height)) + packer.flush()
    path.write_bytes(b"\x89PNG\r\n\x1a\n"
                     + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0))
                     + chunk(b"IDAT", body) + chunk(b"IEND", b""))
    return path


@pytest.mark.parametrize("side", [12000, 20000])  # 144 Mpx (Pillow warns), 400 Mpx (it refuses)
def test_huge_images_are_refused_by_their_header(tmp_path, capsys, side):
    png = _blank_png(tmp_path / "big.png", side, side)
    assert png.stat().st_size < 2_000_000
    assert header_pixels(png) == (side, side)
    mpx = side * side
    with pytest.raises(ImageLoadError) as e:
        check_pixels([png], 50_000_000)
    assert str(e.value) == (
        f"{png}: {side}x{side} = {mpx / 1e6:.1f} Mpx, more than max_pixels 50000000 (50 Mpx); "
        "memory grows with the pixels (about 30 bytes each): raise max_pixels to "
        f"{mpx} if the machine has the memory, or resize it")
    fake_checkpoint = tmp_path / "model.pt"  # refused before the checkpoint is read
    fake_checkpoint.write_bytes(b"x")
    assert cli.main(["predict", str(png), "--checkpoint", str(fake_checkpoint), "--out",
                     str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"efficientdet-adapter predict: error: {png}: {side}x{side} = "
                   f"{mpx / 1e6:.1f} Mpx, more than --max-pixels 50000000 (50 Mpx); memory grows "
                   f"with the pixels (about 30 bytes each): raise --max-pixels to {mpx} if the "
                   "machine has the memory, or resize it"]


def test_a_fifo_and_a_link_loop_are_listed_and_named_when_read(tmp_path):
    Image.new("RGB", (8, 6)).save(tmp_path / "ok.png")
    os.mkfifo(tmp_path / "f.jpg")
    os.symlink(tmp_path / "x.jpg", tmp_path / "y.jpg")
    os.symlink(tmp_path / "y.jpg", tmp_path / "x.jpg")
    assert [p.name for p in list_image_files(tmp_path, recurse=True)] == [
        "f.jpg", "ok.png", "x.jpg", "y.jpg"]
    for read in (open_img, image_size, header_pixels):
        with pytest.raises(ImageLoadError) as e:
            read(tmp_path / "f.jpg")  # returns at once: the FIFO is never opened
        assert str(e.value) == (f"{tmp_path / 'f.jpg'}: is a FIFO (named pipe), not an image "
                                "file; remove it or give the image files")
        with pytest.raises(ImageLoadError) as e:
            read(tmp_path / "x.jpg")
        assert str(e.value) == (f"{tmp_path / 'x.jpg'}: cannot be opened (Too many levels of "
                                "symbolic links; a symbolic link loop?); fix or remove the link")
    assert open_img(tmp_path / "ok.png").shape == (6, 8, 3)


def test_class_names_with_terminal_escapes_are_printed_escaped(tmp_path, capsys):
    """``eval``'s metric lines and per-class table (train prints the same two) show a class
    named ``circle<ESC>[2J`` escaped, and the columns still line up."""
    import json

    from efficientdet_adapter.checkpoint import save_checkpoint
    from efficientdet_adapter.records.class_map import ClassMap
    from efficientdet_adapter.app.demo import DEMO_CLASSES, write_demo_dataset
    from efficientdet_adapter.model.model import model

    data = write_demo_dataset(tmp_path / "shapes", num_images=10, seed=1)
    evil = "circle\x1b[2J"
    for split in ("train", "valid", "test"):
        path = data / split / "_annotations.coco.json"
        coco = json.loads(path.read_text())
        for category in coco["categories"]:
            category["name"] = evil if category["name"] == "circle" else category["name"]
        path.write_text(json.dumps(coco))
    names = [evil if n == "circle" else n for n in DEMO_CLASSES]
    ckpt = save_checkpoint(model(model_name="tf_efficientdet_lite0", num_classes=5, img_size=128,
                                 pretrained_backbone=False), tmp_path / "m.pt", ClassMap(names))
    capsys.readouterr()
    assert cli.main(["eval", "--data", str(data), "--checkpoint", str(ckpt), "--split",
                     "test"]) == 0
    out = capsys.readouterr().out
    assert "\x1b" not in out
    assert "  AP (IoU=0.50:0.95) area=all class=circle\\x1b[2J" in out
    table = out[out.index("per class on"):].splitlines()
    shown = "circle\\x1b[2J"  # 13 characters: the column is that wide
    assert table[1] == f"  {'class':<13}  boxes      AP    AP50"
    assert table[2].startswith(f"  {shown}      1  ")


@pytest.mark.parametrize("width, height", [(2, 1024), (1024, 2), (1, 500), (2, 2)])
def test_scale_jitter_on_images_with_a_side_of_one_or_two_pixels(width, height):
    """``--aug scale``: the longest side to 256 px leaves a 1 px side, which the jitter's 0.5
    used to round to 0 px (an OpenCV assertion); every draw now gives a 256 px sample."""
    import numpy as np

    from efficientdet_adapter.records.bbox import BBox
    from efficientdet_adapter.records.record import Record
    from efficientdet_adapter.tfms.albumentations_adapter import Adapter, aug_preset

    record = Record(0, None, width, height, labels=["a"], label_ids=[1],
                    bboxes=[BBox.from_xyxy(0, 0, width, height)],
                    img=np.full((height, width, 3), 200, np.uint8))
    tfm = Adapter(aug_preset(256, "scale"))
    for _ in range(30):  # the jitter's factor is random: 0.5 is drawn among them
        assert tfm(record).img.shape == (256, 256, 3)


def test_auto_size_and_anchors_without_a_single_box_are_refused(tmp_path, capsys):
    import json

    from efficientdet_adapter.app.demo import write_demo_dataset

    data = write_demo_dataset(tmp_path / "empty", num_images=10, seed=1)
    for split in ("train", "valid", "test"):
        path = data / split / "_annotations.coco.json"
        coco = json.loads(path.read_text())
        coco["annotations"] = []
        path.write_text(json.dumps(coco))
    for flags, message in (
        (["--img-size", "auto", "--anchors", "auto"],
         "--img-size auto --anchors auto: the 7 training images hold no boxes to fit to; "
         "annotate objects in them, or give --img-size N and --anchors default"),
        (["--anchors", "auto"], "--anchors auto: the 7 training images hold no boxes to fit to; "
                                "annotate objects in them, or give --anchors default"),
    ):
        code = cli.main(["train", "--data", str(data), "--out", str(tmp_path / "run"),
                         "--epochs", "1", *flags])
        assert code == 2
        assert capsys.readouterr().err.strip().splitlines()[-1] == (
            f"efficientdet-adapter train: error: {message}")
        assert not (tmp_path / "run" / "last.pt").exists()


def test_a_fifo_in_an_export_is_named_by_the_parser_not_opened(tmp_path):
    """Sizes read from headers: a FIFO named like the image would block ``Image.open``; it is
    dropped and counted as unreadable, named as a FIFO."""
    import json

    from efficientdet_adapter.app.demo import write_demo_dataset
    from efficientdet_adapter.parsers import RoboflowParser

    data = write_demo_dataset(tmp_path / "shapes", num_images=10, seed=1)
    path = data / "train" / "_annotations.coco.json"
    coco = json.loads(path.read_text())
    for image in coco["images"]:  # no sizes: the parser reads every header
        del image["width"], image["height"]
    path.write_text(json.dumps(coco))
    fifo = data / "train" / coco["images"][0]["file_name"]
    fifo.unlink()
    os.mkfifo(fifo)
    parser = RoboflowParser(data)
    train, _, _ = parser.parse()
    assert len(train) == 6
    assert (f"{fifo}: is a FIFO (named pipe), not an image file; remove it or give the image "
            f"files (record 0)") in str(parser.report)


def test_eval_with_a_link_loop_among_the_split_is_one_line_not_a_score_of_the_rest(tmp_path,
                                                                                 capsys):
    """``eval`` skipped the unreadable image with a warning, then printed a metric "on 2 valid
    images" over one, its predictions paired with the wrong records: now one line naming it."""
    import json

    from efficientdet_adapter.app.demo import DEMO_CLASSES, write_demo_dataset
    from efficientdet_adapter.checkpoint import save_checkpoint
    from efficientdet_adapter.model.model import model
    from efficientdet_adapter.records.class_map import ClassMap

    data = write_demo_dataset(tmp_path / "shapes", num_images=10, seed=1)
    coco = json.loads((data / "valid" / "_annotations.coco.json").read_text())
    assert len(coco["images"]) == 2
    looped = data / "valid" / coco["images"][0]["file_name"]
    looped.unlink()
    os.symlink(looped.name + ".b", looped)
    os.symlink(looped.name, str(looped) + ".b")
    ckpt = save_checkpoint(model(model_name="tf_efficientdet_lite0", num_classes=5, img_size=128,
                                 pretrained_backbone=False), tmp_path / "m.pt",
                           ClassMap(list(DEMO_CLASSES)))
    capsys.readouterr()
    assert cli.main(["eval", "--data", str(data), "--checkpoint", str(ckpt), "--split",
                     "valid"]) == 2
    out, err = capsys.readouterr()
    assert "COCOMetric" not in out
    assert err.strip().splitlines()[-1] == (
        f"efficientdet-adapter eval: error: {looped}: cannot be opened (Too many levels of "
        "symbolic links; a symbolic link loop?); fix or remove the link")
