"""Optional integrations: SAHI sliced inference and Weights & Biases pictures."""

from __future__ import annotations

import types

import numpy as np
import pytest

from efficientdet_adapter.records.class_map import ClassMap
from efficientdet_adapter.records.predictions import Prediction
from efficientdet_adapter.records.record import Record
from efficientdet_adapter.records.bbox import BBox

CLASS_MAP = ClassMap(["dot"])


def test_sahi_slices_shift_boxes_back_into_the_full_image():
    """A stand-in model finds one box at a fixed place in every slice: SAHI's slices are
    known, so the full-image boxes must be those places shifted by each slice's offset."""
    pytest.importorskip("sahi")
    from efficientdet_adapter.models.inference_sahi import IceSahiModel

    seen: list[tuple[int, int]] = []

    def detect_image(img, transforms, model, class_map, detection_threshold):
        seen.append(img.shape[:2])
        return Prediction(boxes=[[10, 20, 30, 40]], scores=[0.9], label_ids=[1],
                          detection_threshold=detection_threshold, class_map=class_map,
                          width=img.shape[1], height=img.shape[0])

    fake = types.SimpleNamespace(detect_image=detect_image)
    sahi_model = IceSahiModel(model_type=fake, model=None, class_map=CLASS_MAP, tfms=None,
                              confidence_threshold=0.5)
    image = np.zeros((200, 300, 3), np.uint8)
    pred = sahi_model.get_sliced_prediction(
        image, slice_height=100, slice_width=100, overlap_height_ratio=0.0,
        overlap_width_ratio=0.0, perform_standard_pred=False, postprocess_type="NMS",
        postprocess_match_threshold=0.99)
    assert seen == [(100, 100)] * 6  # 2 rows x 3 columns of slices
    expected = sorted([[10 + x, 20 + y, 30 + x, 40 + y] for y in (0, 100) for x in (0, 100, 200)])
    assert sorted(pred.boxes.tolist()) == expected
    assert pred.labels == ["dot"] * 6 and (pred["width"], pred["height"]) == (300, 200)
    assert pred["img"].size == (300, 200)  # IceVision's dict: the picture with the boxes


def test_wandb_img_preds_boxes():
    wandb = pytest.importorskip("wandb")
    from efficientdet_adapter.training.integrations import wandb_img_preds

    img = np.zeros((40, 60, 3), np.uint8)
    truth = Record(0, None, 60, 40, labels=["dot"], label_ids=[1],
                   bboxes=[BBox.from_xyxy(1, 2, 11, 12)], class_map=CLASS_MAP)
    pred = Prediction(boxes=[[5, 6, 20, 30], [0, 0, 1, 1]], scores=[0.8, 0.1], label_ids=[1, 1],
                      class_map=CLASS_MAP, ground_truth=truth, img=img)
    [image] = wandb_img_preds([pred], add_ground_truth=True)
    assert isinstance(image, wandb.Image)
    boxes = image._boxes  # wandb keeps one BoundingBoxes2D per key
    assert set(boxes) == {"predictions", "ground_truth"}
    [kept] = boxes["predictions"]._val  # the 0.1 detection is below the threshold
    assert kept["position"] == {"minX": 5.0, "minY": 6.0, "maxX": 20.0, "maxY": 30.0}
    assert kept["box_caption"] == "dot 0.80"
    with pytest.raises(ValueError, match="keep_images=True"):
        wandb_img_preds([Prediction(boxes=[], scores=[], label_ids=[])])


@pytest.mark.parametrize("preds, message", [
    (["a.jpg", "b.jpg"], "wandb_img_preds: preds[0] is 'a.jpg' (str), not a Prediction: pass "
                         "the list that predict(..., keep_images=True) returns"),
    ("a.jpg", "wandb_img_preds: preds='a.jpg' (str): pass the list that predict(..., "
              "keep_images=True) returns"),
])
def test_wandb_img_preds_of_something_else_says_what_to_pass(preds, message):
    from efficientdet_adapter.base.errors import ArgumentError
    from efficientdet_adapter.training.integrations import wandb_img_preds

    with pytest.raises(ArgumentError) as e:  # checked before wandb is even imported
        wandb_img_preds(preds)
    assert str(e.value) == message


def test_fastai_wandb_callback_fix_is_still_needed(monkeypatch):
    """fastai issue #4173: when this fails, fastai fixed its WandbCallback: remove
    ``fix_fastai_wandb_config`` from integrations.py."""
    pytest.importorskip("wandb")
    pytest.importorskip("fastai")
    import importlib

    from efficientdet_adapter.training.integrations import fix_fastai_wandb_config

    fastai_wandb = importlib.import_module("fastai.callback.wandb")
    original = fastai_wandb._format_config_value
    monkeypatch.setattr(fastai_wandb, "_format_config_value", original)  # put back afterwards
    with pytest.raises(TypeError):
        original(True)  # the bug, upstream
    assert fix_fastai_wandb_config() is True
    assert fix_fastai_wandb_config() is False  # applied once
    patched = fastai_wandb._format_config_value
    assert getattr(patched, "_primitives_pass", False)
    config = fastai_wandb._format_config({"flag": True, "bs": 8, "device": "cpu", "l": [1, 2]})
    assert config == {"flag": True, "bs": 8, "device": "cpu", "l": [1, 2]}


def test_the_wandb_fix_comes_with_a_wandb_fit_not_with_an_import(monkeypatch):
    """Importing efficientdet.fastai patches nothing; a fit with a WandbCallback patches fastai
    before WandbCallback formats its config (EfficientDetCallback.before_fit, order 5 < 51)."""
    pytest.importorskip("wandb")
    pytest.importorskip("fastai")
    import importlib
    from types import SimpleNamespace

    import torch

    fastai_wandb = importlib.import_module("fastai.callback.wandb")
    original = fastai_wandb._format_config_value
    monkeypatch.setattr(fastai_wandb, "_format_config_value", original)
    from efficientdet_adapter.efficientdet.fastai import EfficientDetCallback

    assert fastai_wandb._format_config_value is original  # the import changed nothing
    wandb_cb = fastai_wandb.WandbCallback.__new__(fastai_wandb.WandbCallback)
    cb = EfficientDetCallback(channels_last=False)  # a stand-in model: no layout to change
    cb.learn = SimpleNamespace(model=torch.nn.Linear(1, 1), cbs=[cb])
    cb.before_fit()
    assert fastai_wandb._format_config_value is original  # no WandbCallback: no patch
    cb.learn.cbs.append(wandb_cb)
    cb.before_fit()
    assert getattr(fastai_wandb._format_config_value, "_primitives_pass", False)
    assert wandb_cb.order > cb.order


def test_missing_extras_name_the_install(monkeypatch):
    import importlib
    import sys

    from efficientdet_adapter.training.integrations import wandb_img_preds

    monkeypatch.setitem(sys.modules, "wandb", None)
    with pytest.raises(ImportError, match=r"efficientdet_adapter\[wandb\]"):
        wandb_img_preds([])
    for name in ("sahi", "sahi.models.base", "sahi.predict", "sahi.prediction"):
        monkeypatch.setitem(sys.modules, name, None)
    monkeypatch.delitem(sys.modules, "efficientdet_adapter.models.inference_sahi", raising=False)
    with pytest.raises(ImportError, match=r"efficientdet_adapter\[sahi\]"):
        importlib.import_module("efficientdet_adapter.models.inference_sahi")
