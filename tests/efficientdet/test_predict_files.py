"""``efficientdet.predict`` on image files and folders, and on datasets of files, does what
``predict`` on the command line does: images above the pixel limit refused before any work,
files that cannot be read skipped with the reason (the others predicted); and the three
prediction loops run one batch step."""

from __future__ import annotations

import logging

import numpy as np
import pytest
import torch
from PIL import Image

from efficientdet_adapter.base.errors import ImageLoadError
from efficientdet_adapter.inference.icevision_dl import predict_dl
from efficientdet_adapter.inference.prediction import inference_tfm, predict, predict_files, predict_from_dl
from efficientdet_adapter.loop.dataloaders import infer_dl
from efficientdet_adapter.loop.steps import detect_batch, predict_step
from efficientdet_adapter.records.class_map import ClassMap
from efficientdet_adapter.records.dataset import Dataset

CLASS_MAP = ClassMap(["box", "bar"])


@pytest.fixture(scope="module")
def model():
    from efficientdet_adapter.model.model import model as build_model

    torch.manual_seed(0)
    m = build_model(model_name="tf_efficientdet_lite0", num_classes=2, img_size=128)
    with torch.no_grad():  # spread the untrained scores so that some boxes pass a threshold
        for p in m.model.class_net.predict.parameters():
            p.normal_(0.0, 0.3)
    return m.eval()


@pytest.fixture
def photos(tmp_path):
    """Three real JPEGs (the middle one cut short: its header reads, its pixels do not) and a
    file that is not an image at all, in one folder."""
    folder = tmp_path / "photos"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for name, size in (("a.jpg", (160, 120)), ("b.jpg", (200, 150)), ("c.jpg", (90, 140))):
        Image.fromarray(rng.integers(0, 255, (size[1], size[0], 3), dtype=np.uint8)).save(
            folder / name, quality=90)
    data = (folder / "b.jpg").read_bytes()
    (folder / "b.jpg").write_bytes(data[: len(data) // 3])  # truncated: decoding fails
    (folder / "d.png").write_bytes(b"not a png at all")
    return folder


def test_predict_on_a_folder_skips_unreadable_files_and_says_why(model, photos, caplog):
    with caplog.at_level(logging.WARNING):
        preds = predict(model, photos, detection_threshold=0.0, batch_size=4, device="cpu")
    assert [p.filepath.name for p in preds] == ["a.jpg", "c.jpg"]
    assert [(p.width, p.height) for p in preds] == [(160, 120), (90, 140)]
    skipped = [r.getMessage() for r in caplog.records if r.getMessage().startswith("skipped ")]
    assert len(skipped) == 2
    assert any("b.jpg" in m for m in skipped) and any("d.png" in m for m in skipped)
    assert [p.record_id for p in preds] == [0, 1]
    assert all(len(p.scores) > 0 for p in preds)


def test_predict_files_reports_what_it_skipped(model, photos):
    done = predict_files(model, [photos / "a.jpg", photos / "b.jpg", photos / "c.jpg"], 0.5,
                         batch_size=8, device="cpu")
    assert len(done.predictions) == 2
    assert sorted(p.name for p in done.skipped) == ["b.jpg"]
    assert "b.jpg" in done.skipped[photos / "b.jpg"]
    assert done.tile_warning is None


def test_predict_on_files_applies_the_pixel_guard_before_any_work(model, photos):
    with pytest.raises(ImageLoadError, match=r"a\.jpg: 160x120 = 0\.0 Mpx, more than max_pixels 10000"):
        predict(model, [photos / "a.jpg"], max_pixels=10_000, device="cpu")
    assert len(predict(model, [photos / "a.jpg"], max_pixels=None, device="cpu")) == 1


def test_none_readable_is_one_error_naming_them(model, photos):
    with pytest.raises(ImageLoadError, match=r"none of the 2 images could be read \(.*b\.jpg"):
        predict(model, [photos / "b.jpg", photos / "d.png"], device="cpu")


def test_a_dataset_of_files_skips_the_unreadable_one_too(model, photos, caplog):
    ds = Dataset.from_images([photos / "a.jpg", photos / "b.jpg", photos / "c.jpg"],
                             inference_tfm(model), class_map=CLASS_MAP)
    with caplog.at_level(logging.WARNING):
        preds = predict(model, ds, detection_threshold=0.0, batch_size=3, device="cpu")
    assert [p.filepath.name for p in preds] == ["a.jpg", "c.jpg"]
    assert any("b.jpg" in r.getMessage() for r in caplog.records)
    with pytest.raises(ImageLoadError, match="b.jpg"):
        predict(model, ds, batch_size=3, device="cpu", skip_unreadable=False)


def test_the_three_loops_share_one_batch_step(model, photos):
    """predict_step (Lightning's), predict_from_dl and predict_dl give the same detections for
    the same images: each runs detect_batch."""
    ds = Dataset.from_images([photos / "a.jpg", photos / "c.jpg"], inference_tfm(model),
                             class_map=CLASS_MAP)
    dl = infer_dl(ds, batch_size=2)
    batch = next(iter(dl))
    dets, records = detect_batch(model, batch)
    assert dets.dtype == np.float32 and dets.shape[0] == 2 and len(records) == 2
    step = predict_step(model, batch, detection_threshold=0.0)
    _, old = predict_dl(model, dl, show_pbar=False, detection_threshold=0.0)
    for a, b in zip(step, old):  # both in the transformed images' pixels
        np.testing.assert_array_equal(a.scores, b.scores)
        np.testing.assert_array_equal(np.asarray(a.boxes), np.asarray(b.boxes))
    mapped = predict_from_dl(model, dl, show_pbar=False, detection_threshold=0.0)
    np.testing.assert_array_equal(mapped[0].scores, step[0].scores)  # same scores, mapped boxes
    np.testing.assert_array_equal(np.sort(dets[0, :, 4])[::-1][: len(step[0].scores)],
                                  np.sort(step[0].scores)[::-1])
