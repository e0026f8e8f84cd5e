"""IceVision's checkpoint contract: save_icevision_checkpoint, model_from_checkpoint's dict."""

from __future__ import annotations

from collections import OrderedDict
from pathlib import Path
from urllib.parse import urlparse

import pytest
import torch

from efficientdet_adapter import efficientdet
from efficientdet_adapter.checkpoint import model_from_checkpoint, save_checkpoint
from efficientdet_adapter.class_map import ClassMap
from efficientdet_adapter.errors import CheckpointError
from efficientdet_adapter.icevision_checkpoint import (
    COCO_CATEGORIES,
    save_icevision_checkpoint,
)

CLASSES = ["background", "milk_bottle", "carton"]


def build(seed=0, num_classes=3, size=128):
    torch.manual_seed(seed)
    model = efficientdet.model(model_name="tf_efficientdet_lite0", num_classes=num_classes,
                               img_size=size)
    with torch.no_grad():
        for p in model.model.class_net.parameters():
            p.add_(torch.randn_like(p) * 0.1)
    return model.eval()


def same_net(a, b) -> bool:
    sa, sb = a.model.state_dict(), b.model.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


def test_save_then_load_without_arguments(tmp_path):
    model = build()
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    path = save_icevision_checkpoint(model, tmp_path / "fridge.pth", optimizer=opt,
                                     model_name="ross.efficientdet", backbone_name="tf_lite0",
                                     classes=CLASSES, img_size=128,
                                     meta={"icevision_version": "0.9.1"})
    raw = torch.load(path, weights_only=True)  # plain data: readable by IceVision and safely here
    assert set(raw) == {"meta", "state_dict", "optimizer"}
    assert raw["meta"]["classes"] == CLASSES and raw["meta"]["icevision_version"] == "0.9.1"
    assert "model.backbone.conv_stem.weight" in raw["state_dict"]

    loaded = model_from_checkpoint(path)  # IceVision's file: IceVision's dict, no arguments
    assert set(loaded) == {"model", "model_type", "backbone", "class_map", "img_size", "checkpoint"}
    assert loaded["model_type"] is efficientdet
    assert loaded["backbone"] is efficientdet.backbones.tf_lite0
    assert loaded["class_map"] == ClassMap(["milk_bottle", "carton"])
    assert loaded["img_size"] == 128 and not loaded["model"].training
    assert same_net(loaded["model"], model)
    x = torch.randn(1, 3, 128, 128)
    assert torch.equal(loaded["model"].detect(x), model.detect(x))


def test_icevision_0_12_file_written_by_mmcv(tmp_path):
    """The layout mmcv's save_checkpoint gave IceVision 0.12 files: bench weights (with effdet's
    anchor boxes), meta with the class list and sizes, the optimizer state."""
    model = build(seed=3)
    state = OrderedDict((k, v.clone()) for k, v in model.state_dict().items())
    state["anchors.boxes"] = torch.zeros(3069, 4)
    meta = {"mmcv_version": "1.3.17", "time": "Fri Nov 26 10:00:00 2021",
            "classes": CLASSES, "model_name": "ross.efficientdet", "backbone_name": "tf_lite0",
            "img_size": 128, "icevision_version": "0.12.0"}
    torch.save({"meta": meta, "state_dict": state, "optimizer": {"state": {}, "param_groups": []}},
               tmp_path / "old.pth")
    loaded = model_from_checkpoint(tmp_path / "old.pth")
    assert same_net(loaded["model"], model)
    assert loaded["class_map"].get_classes() == CLASSES
    # IceVision's explicit arguments win over meta
    again = model_from_checkpoint(tmp_path / "old.pth", model_name="ross.efficientdet",
                                  backbone_name="tf_lite0", img_size=256)
    assert again["img_size"] == 256 and again["model"].config.img_size == (256, 256)


def test_is_coco_reads_effdet_coco_weights_from_a_url(tmp_path, monkeypatch):
    from effdet import EfficientDet, get_efficientdet_config

    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch_home"))
    monkeypatch.setenv("EFFICIENTDET_ADAPTER_OFFLINE", "1")
    cfg = get_efficientdet_config("tf_efficientdet_lite0")
    cached = tmp_path / "torch_home" / "hub" / "checkpoints" / Path(urlparse(cfg.url).path).name
    cached.parent.mkdir(parents=True)
    torch.manual_seed(5)
    net = EfficientDet(cfg, pretrained_backbone=False)
    torch.save(net.state_dict(), cached)
    loaded = model_from_checkpoint(cfg.url, model_name="ross.efficientdet",
                                   backbone_name="tf_lite0", img_size=128, is_coco=True)
    cm = loaded["class_map"]
    assert len(cm) == 91 and len(COCO_CATEGORIES) == 90  # background + COCO's 90 category ids
    assert cm.get_by_id(1) == "person" and cm.get_by_id(90) == "toothbrush"
    theirs = net.state_dict()
    ours = loaded["model"].model.state_dict()
    assert all(torch.equal(ours[k], theirs[k]) for k in theirs)


def test_coco_names_match_the_coco_annotation_file(samples_dir):
    import json

    cats = json.loads((samples_dir / "coco" / "annotations.json").read_text())["categories"]
    for cat in cats:
        assert COCO_CATEGORIES[cat["id"] - 1] == cat["name"], cat


def test_our_own_calls_keep_the_tuple(tmp_path):
    model = build()
    cm = ClassMap(["milk_bottle", "carton"])
    path = save_checkpoint(model, tmp_path / "m.pt", cm)
    loaded, class_map, config = model_from_checkpoint(path)
    assert class_map == cm and config.img_size == (128, 128) and same_net(loaded, model)
    # IceVision's way of asking, on our file: the dict
    as_dict = model_from_checkpoint(path, model_name="ross.efficientdet", backbone_name="tf_lite0")
    assert as_dict["class_map"] == cm and same_net(as_dict["model"], model)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"model_name": "mmdet.retinanet", "backbone_name": "resnet50_fpn_1x"},
         "EfficientDet models only"),
        ({"model_name": "ross.efficientdet", "backbone_name": "resnet50"},
         "not one of efficientdet.backbones"),
    ],
)
def test_icevision_call_errors_say_what_to_pass(tmp_path, kwargs, message):
    model = build()
    path = save_icevision_checkpoint(model, tmp_path / "x.pth", classes=CLASSES)
    with pytest.raises(CheckpointError, match=message):
        model_from_checkpoint(path, img_size=128, **kwargs)
