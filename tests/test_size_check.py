"""One rule for an image whose real size differs from its annotation's: fit, count, or refuse."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from efficientdet_adapter.records.bbox import BBox
from efficientdet_adapter.base.errors import ImageLoadError
from efficientdet_adapter.records.images import _apply_orientation
from efficientdet_adapter.records.record import Record
from efficientdet_adapter.records.size_check import (
    BATCH_FIXES,
    EXIF_ROTATION,
    RESIZED,
    fit_record,
    orient_box,
)


@pytest.mark.parametrize("orientation", range(1, 9))
def test_orient_box_moves_the_box_exactly_as_the_pixels_move(orientation):
    raw = np.zeros((40, 100, 3), np.uint8)  # stored 100x40
    raw[5:15, 20:50] = 255  # box (20, 5, 50, 15)
    turned = _apply_orientation(raw, orientation)
    ys, xs = np.nonzero(turned[..., 0])
    found = (xs.min(), ys.min(), xs.max() + 1, ys.max() + 1)
    box = orient_box(BBox.from_xyxy(20, 5, 50, 15), orientation, width=100, height=40)
    assert box.xyxy == tuple(float(v) for v in found)


def record(w: int, h: int, box=(10, 5, 30, 15)) -> Record:
    return Record(record_id=0, filepath=Path("x.jpg"), width=w, height=h, labels=["a"],
                  label_ids=[1], bboxes=[BBox.from_xyxy(*box)], areas=[200.0])


@pytest.mark.parametrize(
    "annotated, loaded, orientation, reason, box, area",
    [
        ((100, 40), (100, 40), 1, None, (10, 5, 30, 15), 200.0),
        ((100, 40), (200, 80), 1, RESIZED, (20, 10, 60, 30), 800.0),
        ((100, 40), (50, 20), 1, RESIZED, (5, 2.5, 15, 7.5), 50.0),
        ((100, 40), (40, 100), 6, EXIF_ROTATION, (25, 10, 35, 30), 200.0),
        ((100, 40), (80, 200), 6, EXIF_ROTATION, (50, 20, 70, 60), 800.0),  # turned + resized
    ],
)
def test_fit_record(annotated, loaded, orientation, reason, box, area):
    r = record(*annotated)
    fixed, why = fit_record(r, *loaded, orientation)
    assert why == reason
    assert fixed.bboxes[0].xyxy == pytest.approx(box)
    assert (fixed.width, fixed.height) == loaded and fixed.areas == [pytest.approx(area)]
    assert (r.width, r.height) == annotated  # the given record is never changed


@pytest.mark.parametrize("loaded, orientation", [((100, 60), 1), ((40, 90), 6), ((40, 100), 1)])
def test_fit_record_refuses_another_aspect_ratio_naming_the_file(loaded, orientation):
    with pytest.raises(ImageLoadError, match=r"x\.jpg: the annotation says 100x40 but the image "
                                             r"is \d+x\d+.*another aspect ratio.*--check-images"):
        fit_record(record(100, 40), *loaded, orientation)


# -- where the image is decoded for a batch ----------------------------------------------------
def test_dataset_fits_each_item_to_its_decoded_image_and_counts_it(tmp_path, caplog):
    from efficientdet_adapter.records.dataset import Dataset

    img = np.zeros((40, 100, 3), np.uint8)
    img[10:30, 20:60] = 255
    Image.fromarray(img).save(tmp_path / "big.png")  # annotated at half the size
    raw = np.zeros((40, 100, 3), np.uint8)
    raw[5:15, 20:50] = 255
    exif = Image.Exif()
    exif[0x0112] = 6
    Image.fromarray(raw).save(tmp_path / "turned.png", exif=exif)  # annotated on raw pixels
    Image.fromarray(img).save(tmp_path / "other.png")
    recs = [
        Record(0, tmp_path / "big.png", 50, 20, ["a"], [1], [BBox.from_xyxy(10, 5, 30, 15)]),
        Record(1, tmp_path / "turned.png", 100, 40, ["a"], [1], [BBox.from_xyxy(20, 5, 50, 15)]),
        Record(2, tmp_path / "other.png", 70, 40, ["a"], [1], [BBox.from_xyxy(1, 1, 5, 5)]),
    ]
    ds = Dataset(recs)
    before = dict(BATCH_FIXES)
    with caplog.at_level(logging.WARNING):
        for i in (0, 1):
            item = ds[i]
            ys, xs = np.nonzero(item.img[..., 0] > 127)
            assert item.bboxes[0].xyxy == (xs.min(), ys.min(), xs.max() + 1, ys.max() + 1)
            assert (item.width, item.height) == (item.img.shape[1], item.img.shape[0])
        ds[0]
    assert BATCH_FIXES[RESIZED] - before.get(RESIZED, 0) == 2
    assert BATCH_FIXES[EXIF_ROTATION] - before.get(EXIF_ROTATION, 0) == 1
    warned = [r.getMessage() for r in caplog.records if "big.png" in r.getMessage()]
    assert len(warned) == 1 and "annotation 50x20, image 100x40" in warned[0]  # once per file
    assert (recs[0].width, recs[0].bboxes[0].xyxy) == (50, (10, 5, 30, 15))  # parsed: untouched
    with pytest.raises(ImageLoadError, match=r"other\.png: the annotation says 70x40 but the "
                                             r"image is 100x40"):
        ds[2]


def test_error_in_a_loader_worker_keeps_the_file_name_in_the_cli_line(tmp_path):
    from efficientdet_adapter import tfms
    from efficientdet_adapter.app.cli.command_line import _one_line
    from efficientdet_adapter.records.dataset import Dataset
    from efficientdet_adapter.loop.dataloaders import valid_dl

    Image.new("RGB", (64, 64)).save(tmp_path / "ok.png")
    (tmp_path / "bad.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"junk" * 10)
    recs = [Record(i, tmp_path / n, 64, 64) for i, n in enumerate(["ok.png", "bad.png"])]
    dl = valid_dl(Dataset(recs, tfms.A.Adapter([tfms.A.Normalize()])), batch_size=1,
                  num_workers=1)
    with pytest.raises(ImageLoadError) as info:
        list(dl)
    assert "worker" in str(info.value).splitlines()[0]  # torch's wrapper: no file name there
    assert _one_line(info.value).startswith(f"{tmp_path / 'bad.png'}: cannot decode image")

