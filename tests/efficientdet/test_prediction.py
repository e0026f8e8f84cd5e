"""Prediction: boxes come back in the original images' pixels, every score kept."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from efficientdet_adapter import tfms
from efficientdet_adapter.records.bbox import BBox
from efficientdet_adapter.records.class_map import ClassMap
from efficientdet_adapter.records.dataset import Dataset
from efficientdet_adapter.loop.dataloaders import build_infer_batch
from efficientdet_adapter.inference.prediction import detect, inference_tfm, predict, to_original
from efficientdet_adapter.inference.single_image import detect_image, end2end_detect
from efficientdet_adapter.base.errors import BatchError
from efficientdet_adapter.records.record import Record

IMG = 128
CLASS_MAP = ClassMap(["box", "bar"])
RED = (230, 20, 20)

# (width, height) of originals: landscape, portrait, square, extreme, smaller than the input
SHAPES = [(200, 100), (90, 240), (128, 128), (333, 61), (50, 70)]


def image_with_rect(width: int, height: int) -> tuple[np.ndarray, BBox]:
    """A grey image with a red rectangle at a known, non-integer-friendly place."""
    img = np.full((height, width, 3), 90, np.uint8)
    x0, y0 = round(width * 0.23), round(height * 0.31)
    x1, y1 = round(width * 0.71), round(height * 0.83)
    img[y0:y1, x0:x1] = RED
    return img, BBox.from_xyxy(x0, y0, x1, y1)


@pytest.fixture(scope="module")
def model():
    from efficientdet_adapter.model.model import model as build_model

    torch.manual_seed(0)
    m = build_model(model_name="tf_efficientdet_lite0", num_classes=len(CLASS_MAP), img_size=IMG)
    with torch.no_grad():  # spread the untrained scores so that thresholds select some boxes
        for p in m.model.class_net.predict.parameters():
            p.normal_(0.0, 0.3)
    return m.eval()


@pytest.mark.parametrize("width,height", SHAPES)
@pytest.mark.parametrize("size", [IMG, (128, 256)])
def test_unmapping_a_known_transformed_box(width, height, size):
    img, box = image_with_rect(width, height)
    record = Record(0, None, width, height, labels=["box"], label_ids=[1], bboxes=[box], img=img)
    tfm = tfms.A.Adapter(tfms.A.resize_and_pad(size))
    out = tfm(record)
    h, w = (size, size) if isinstance(size, int) else size
    assert out.img.shape[:2] == (h, w)
    [moved] = out.bboxes
    # the transformed box is where the rectangle landed in the transformed image
    cx, cy = int((moved.xmin + moved.xmax) / 2), int((moved.ymin + moved.ymax) / 2)
    assert tuple(out.img[cy, cx]) == RED
    assert tuple(out.img[int(moved.ymin) - 2, cx]) != RED or moved.ymin < 2

    dets = np.zeros((1, 3, 6))
    dets[0, 0] = [*moved.xyxy, 0.9, 1]
    back = to_original(dets, tfm, [record])
    np.testing.assert_allclose(back[0, 0, :4], box.xyxy, atol=1e-4)
    assert back[0, 0, 4:].tolist() == [0.9, 1]


def test_predict_mixed_sizes_equals_manual_mapping(model):
    images = [image_with_rect(w, h)[0] for w, h in SHAPES]
    tfm = inference_tfm(model)
    preds = predict(model, Dataset.from_images(images, tfm, class_map=CLASS_MAP),
                    detection_threshold=0.5, batch_size=3)
    assert len(preds) == len(SHAPES)

    for img, pred, (w, h) in zip(images, preds, SHAPES):
        rec = Record(0, None, w, h, img=img)
        sample = tfm(rec)
        (x, _), _ = build_infer_batch([sample])
        dets = detect(model, x).numpy()
        # the geometry the transform recorded on the sample is the one the pipeline's sizes give
        assert sample.geometry == tfms.geometry(tfm, w, h)
        expected = to_original(dets, tfm, [rec], geometries=[sample.geometry])[0]
        assert np.array_equal(expected, to_original(dets, tfm, [rec])[0])
        expected = expected[(expected[:, 5] >= 1) & (expected[:, 4] > 0)]
        assert (pred.width, pred.height) == (w, h)
        assert len(pred.boxes) == len(expected) == 100  # every detection kept, not only >= 0.5
        np.testing.assert_allclose(pred.boxes, expected[:, :4], rtol=1e-6, atol=1e-4)
        np.testing.assert_allclose(pred.scores, expected[:, 4], rtol=1e-6)
        assert pred.boxes.min() >= 0
        assert (pred.boxes[:, [0, 2]] <= w).all() and (pred.boxes[:, [1, 3]] <= h).all()
        assert pred.ground_truth is None and pred.class_map == CLASS_MAP
        assert set(pred.labels) <= {"box", "bar"}

    # re-thresholding uses the stored scores; the model does not run again
    p = preds[0]
    assert len(p) == int((p.scores >= 0.5).sum())
    assert len(p.with_threshold(0.0)) == 100
    assert len(p.with_threshold(float(p.scores[9]))) == 10


def test_predict_batch_equals_one_by_one(model):
    images = [image_with_rect(w, h)[0] for w, h in SHAPES]
    ds = Dataset.from_images(images, inference_tfm(model))
    batched = predict(model, ds, batch_size=len(images))
    single = predict(model, ds, batch_size=1)
    for a, b in zip(batched, single):
        np.testing.assert_allclose(a.boxes, b.boxes, atol=1e-3)
        np.testing.assert_allclose(a.scores, b.scores, atol=1e-5)


def test_predict_attaches_original_ground_truth_and_images(model):
    img, box = image_with_rect(160, 96)
    rec = Record(7, None, 160, 96, labels=["box"], label_ids=[1], bboxes=[box], img=img,
                 class_map=CLASS_MAP)
    [pred] = predict(model, Dataset([rec], inference_tfm(model)), keep_images=True)
    assert pred.ground_truth.bboxes == [box] and pred.record_id == 7
    assert pred.img.shape == (96, 160, 3) and pred.img.dtype == np.uint8
    assert rec.img is img  # the dataset's record was not changed


def test_predictions_match_records_by_position_when_ids_repeat(model):
    """Two records share one record_id: each prediction still maps back to its own image."""
    shapes = [(200, 100), (90, 240), (128, 128)]
    recs = []
    for (w, h), rid in zip(shapes, ["same", "same", "other"]):
        img, box = image_with_rect(w, h)
        recs.append(Record(rid, None, w, h, labels=["box"], label_ids=[1], bboxes=[box],
                           img=img, class_map=CLASS_MAP))
    tfm = inference_tfm(model)
    preds = predict(model, Dataset(recs, tfm), keep_images=True, batch_size=2)
    assert [p.record_id for p in preds] == ["same", "same", "other"]
    for rec, pred in zip(recs, preds):
        assert (pred.width, pred.height) == (rec.width, rec.height)
        assert pred.ground_truth.bboxes == rec.bboxes
        np.testing.assert_array_equal(pred.img, rec.img)
        [alone] = predict(model, Dataset([rec], tfm))  # the same boxes as predicted on its own
        np.testing.assert_allclose(pred.boxes, alone.boxes, atol=1e-3)
        assert (pred.boxes[:, [0, 2]] <= rec.width).all()
        assert (pred.boxes[:, [1, 3]] <= rec.height).all()


def test_a_shuffling_loader_is_refused(model):
    from efficientdet_adapter.efficientdet import infer_dl, predict_from_dl

    ds = Dataset.from_images([image_with_rect(60, 40)[0]] * 2, inference_tfm(model))
    with pytest.raises(BatchError, match="by position.*shuffle=False"):
        predict_from_dl(model, infer_dl(ds, batch_size=2, shuffle=True), show_pbar=False)


def test_end2end_detect_from_a_file(model, tmp_path):
    img, _ = image_with_rect(240, 150)
    path = tmp_path / "photo.png"
    Image.fromarray(img).save(path)
    pred = detect_image(path, None, model, CLASS_MAP, detection_threshold=0.5)
    [ref] = predict(model, Dataset.from_images([img], inference_tfm(model)))
    assert pred.filepath == path and (pred.width, pred.height) == (240, 150)
    np.testing.assert_allclose(pred.boxes, ref.boxes, atol=1e-4)
    assert pred.class_map == CLASS_MAP

    # a list of albumentations transforms works as well as an Adapter
    tfm_list = [*tfms.A.resize_and_pad(IMG), tfms.A.Normalize(mean=model.config.mean,
                                                             std=model.config.std)]
    again = detect_image(img, tfm_list, model, CLASS_MAP)
    np.testing.assert_allclose(again.boxes, ref.boxes, atol=1e-4)

    # IceVision's end2end_detect: its dict, with the drawn image by default
    out = end2end_detect(path, None, model, CLASS_MAP, detection_threshold=0.5)
    assert sorted(out) == ["detection", "height", "img", "width"]
    assert (out["width"], out["height"]) == (240, 150) and out["img"].size == (240, 150)
    assert out["detection"]["bboxes"] == pred.bboxes
    np.testing.assert_allclose(out["detection"]["scores"], pred.kept_scores)
    assert out["detection"]["label_ids"] == pred.kept_label_ids
    plain = end2end_detect(img, None, model, CLASS_MAP, return_img=False)
    assert plain["img"] is None


def test_wrong_input_size_says_what_to_do(model):
    with pytest.raises(BatchError, match=r"built for 128x128.*resize_and_pad\(\(128, 128\)\)"):
        detect(model, torch.zeros(1, 3, 96, 128))


def test_annotated_image_and_figures(model, tmp_path):
    img, box = image_with_rect(200, 120)
    annotated = end2end_detect(img, None, model, CLASS_MAP, detection_threshold=0.0,
                               return_as_pil_img=False)["img"]
    assert annotated.shape == img.shape and annotated.dtype == np.uint8
    assert (annotated != img).any(axis=-1).mean() > 0.01  # boxes were drawn over the image
    # thresholds are scores in [0, 1]: 1.0 keeps nothing of an untrained model
    plain = end2end_detect(img, None, model, CLASS_MAP, detection_threshold=1.0,
                           return_as_pil_img=False)["img"]
    assert (plain != img).any(axis=-1).mean() < 0.01  # nothing kept: the image itself

    records = [
        Record(i, None, w, h, labels=["box"], label_ids=[1], bboxes=[b], img=im,
               class_map=CLASS_MAP)
        for i, (w, h) in enumerate(SHAPES[:3])
        for im, b in [image_with_rect(w, h)]
    ]
    from efficientdet_adapter.inference.prediction import show_preds, show_results

    fig = show_results(model, Dataset(records, inference_tfm(model)), ncols=1,
                       save_path=tmp_path / "results.png", cell_size=2.0)
    assert len(fig.axes) == 6  # 3 samples x (truth, prediction)
    assert fig.axes[0].get_title().endswith("truth") and "prediction" in fig.axes[1].get_title()
    png = Image.open(tmp_path / "results.png")
    assert png.size == (400, 600)  # 2 cells of 2 inches by 3 rows, at 100 dpi

    preds = predict(model, Dataset.from_images([img], inference_tfm(model)), keep_images=True)
    fig = show_preds(preds, save_path=tmp_path / "preds.png", cell_size=2.0)
    assert len(fig.axes) == 1 and (tmp_path / "preds.png").stat().st_size > 1000
    with pytest.raises(ValueError, match="keep_images=True"):
        show_preds(predict(model, Dataset.from_images([img], inference_tfm(model))))


def test_predict_dl_old_form_stays_in_transformed_pixels(model):
    from efficientdet_adapter.efficientdet import infer_dl, predict_dl

    images = [image_with_rect(w, h)[0] for w, h in SHAPES[:3]]
    ds = Dataset.from_images(images, inference_tfm(model))
    samples, preds = predict_dl(model, infer_dl(ds, batch_size=2), show_pbar=False)
    assert [s["img"].shape for s in samples] == [(IMG, IMG, 3)] * 3  # IceVision 0.x's dict read
    assert samples[0]["imageid"] == 0 and samples[0]["width"] == IMG
    with pytest.raises(KeyError, match="keys"):
        samples[0]["masks"]
    # the same detections as detect() on the transformed images
    batch = torch.stack([torch.from_numpy(s.img).permute(2, 0, 1) for s in samples])
    dets = detect(model, batch)
    for pred, rows in zip(preds, dets):
        kept = rows[rows[:, 4] > 0]
        np.testing.assert_allclose(pred.boxes, kept[:, :4].numpy(), atol=1e-5)
        assert pred.boxes.max(initial=0) <= IMG
