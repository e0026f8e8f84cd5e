"""IceVision's checkpoint contract: save_icevision_checkpoint, model_from_checkpoint's dict."""

from __future__ import annotations

from collections import OrderedDict
from pathlib import Path
from urllib.parse import urlparse

import pytest
import torch

from efficientdet_adapter import efficientdet
from efficientdet_adapter.checkpoint import load_model, model_from_checkpoint, save_checkpoint
from efficientdet_adapter.records.class_map import ClassMap
from efficientdet_adapter.base.errors import CheckpointError
from efficientdet_adapter.model.icevision import (
    CLASSES as ICEVISION_COCO_CLASSES,
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
    assert set(loaded) == {"model", "model_type", "backbone", "class_map", "img_size", "checkpoint",
                           "model_name", "backbone_name"}
    assert loaded["model_name"] == "ross.efficientdet" and loaded.backbone_name == "tf_lite0"
    assert loaded["checkpoint"]["meta"]["icevision_version"] == "0.9.1"
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
    # effdet's own COCO head predicts COCO's 90 category ids: those, not IceVision's 80 names
    assert len(cm) == 91 and len(COCO_CATEGORIES) == 90
    assert cm.get_by_id(1) == "person" and cm.get_by_id(90) == "toothbrush"
    theirs = net.state_dict()
    ours = loaded["model"].model.state_dict()
    assert all(torch.equal(ours[k], theirs[k]) for k in theirs)


def test_coco_names_match_the_coco_annotation_file(samples_dir):
    import json

    cats = json.loads((samples_dir / "coco" / "annotations.json").read_text())["categories"]
    for cat in cats:
        assert COCO_CATEGORIES[cat["id"] - 1] == cat["name"], cat


def test_load_model_is_the_tuple_model_from_checkpoint_always_the_dict(tmp_path):
    model = build()
    cm = ClassMap(["milk_bottle", "carton"])
    path = save_checkpoint(model, tmp_path / "m.pt", cm)
    loaded, class_map, config = load_model(path)
    assert class_map == cm and config.img_size == (128, 128) and same_net(loaded, model)
    for as_dict in (model_from_checkpoint(path),  # a path alone: IceVision's dict too
                    model_from_checkpoint(path, model_name="ross.efficientdet",
                                          backbone_name="tf_lite0")):
        assert as_dict["class_map"] == cm and same_net(as_dict["model"], model)
        assert as_dict["img_size"] == (128, 128) and as_dict["backbone_name"] == "tf_lite0"
    # an IceVision file through the library's own loader: the tuple
    ice = save_icevision_checkpoint(model, tmp_path / "ice.pth", model_name="ross.efficientdet",
                                    backbone_name="tf_lite0", classes=CLASSES, img_size=128)
    again, class_map, config = load_model(ice)
    assert class_map == cm and config.model_name == "tf_efficientdet_lite0"
    assert same_net(again, model)


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


def test_is_coco_means_icevisions_80_classes(tmp_path):
    """An IceVision-trained COCO model of tf_lite0: a class head for 80 classes (720 outputs)."""
    assert len(ICEVISION_COCO_CLASSES) == 80 and ICEVISION_COCO_CLASSES[11] == "stop sign"
    model = build(num_classes=81)
    head = [v for k, v in model.state_dict().items() if "class_net.predict.conv_pw.weight" in k]
    assert head[0].shape[0] == 720
    torch.save({"meta": {"img_size": 128}, "state_dict": model.state_dict()}, tmp_path / "c.pth")
    loaded = model_from_checkpoint(tmp_path / "c.pth", model_name="ross.efficientdet",
                                   backbone_name="tf_lite0", is_coco=True)
    assert len(loaded["class_map"]) == 81 and loaded["class_map"].get_by_id(80) == "toothbrush"
    assert loaded["class_map"].get_by_id(12) == "stop sign" and same_net(loaded["model"], model)
    # classes win over is_coco, as in IceVision
    with pytest.raises(CheckpointError, match="foreground classes but the class map has 2"):
        model_from_checkpoint(tmp_path / "c.pth", backbone_name="tf_lite0", is_coco=True,
                              classes=["a", "b"])


def test_lightning_style_keys_need_revise_keys_or_are_found(tmp_path):
    """revise_keys as IceVision's: regexes on the names first; strict=False logs what is missing."""
    model = build(seed=1)
    state = {f"module.{k}": v for k, v in model.state_dict().items()}  # DataParallel's prefix
    meta = {"classes": CLASSES, "backbone_name": "tf_lite0", "img_size": 128}
    torch.save({"meta": meta, "state_dict": state}, tmp_path / "dp.pth")
    loaded = model_from_checkpoint(tmp_path / "dp.pth")  # default revise_keys: ^module\.
    assert same_net(loaded["model"], model)
    renamed = {k.replace("model.", "net.", 1): v for k, v in model.state_dict().items()}
    torch.save({"meta": meta, "state_dict": renamed}, tmp_path / "renamed.pth")
    loaded = model_from_checkpoint(tmp_path / "renamed.pth", revise_keys=[(r"^net\.", "model.")])
    assert same_net(loaded["model"], model)


def test_strict_false_keeps_missing_tensors_and_says_so(tmp_path, caplog):
    model = build(seed=2)
    state = {k: v for k, v in model.state_dict().items() if "class_net.predict" not in k}
    meta = {"classes": CLASSES, "backbone_name": "tf_lite0", "img_size": 128}
    torch.save({"meta": meta, "state_dict": state}, tmp_path / "part.pth")
    with caplog.at_level("WARNING"):
        loaded = model_from_checkpoint(tmp_path / "part.pth")  # IceVision's default strict=False
    assert "keep their initial values" in caplog.text and "class_net.predict" in caplog.text
    net = loaded["model"].model.state_dict()
    assert torch.equal(net["backbone.conv_stem.weight"], model.model.state_dict()[
        "backbone.conv_stem.weight"])
    with pytest.raises(CheckpointError, match="tensors are missing"):
        model_from_checkpoint(tmp_path / "part.pth", strict=True)
    assert loaded["model"].training is False
    assert model_from_checkpoint(tmp_path / "part.pth", eval_mode=False)["model"].training


def test_map_location_and_pickled_objects(tmp_path):
    model = build()
    path = save_icevision_checkpoint(model, tmp_path / "x.pth", classes=CLASSES, img_size=128,
                                     backbone_name="tf_lite0")
    loaded = model_from_checkpoint(path, map_location="cpu")
    assert loaded["checkpoint"]["state_dict"]["model.backbone.conv_stem.weight"].device.type == "cpu"
    torch.save({"meta": {"classes": CLASSES, "backbone_name": "tf_lite0", "img_size": 128,
                         "cm": ClassMap(["a"])}, "state_dict": model.state_dict()},
               tmp_path / "pickled.pth")
    with pytest.raises(CheckpointError, match="refused to load: the file holds a pickled"):
        model_from_checkpoint(tmp_path / "pickled.pth")


@pytest.mark.parametrize(
    "meta, message",
    [
        ({"img_size": 10**6}, r"meta.img_size=1000000 is not an image size .* in 1..4096"),
        ({"img_size": [128, "x"]}, r"meta.img_size=\[128, 'x'\] is not an image size \(a string"),
        ({"img_size": "128"}, r"meta.img_size='128' is not an image size \(a string, not a "
                              r"number\); expected an int or \[height, width\], each in "
                              r"1..4096; pass img_size=\.\.\. in Python, or write a valid "
                              r"meta\.img_size into the file$"),
        ({"img_size": [128, 128, 3]}, r"meta.img_size=\[128, 128, 3\] is not an image size "
                                      r"\(3 values, an image shape with channels\?\)"),
        ({"img_size": True}, r"meta.img_size=True is not an image size \(a bool\)"),
        ({"img_size": -128}, r"meta.img_size=-128 is not an image size \(not positive\)"),
        ({"img_size": 128.5}, r"meta.img_size=128.5 is not an image size \(a float, not a whole"),
        ({"backbone_name": "BackboneSpec"}, "meta.backbone_name='BackboneSpec' is not one of"),
        ({"backbone_name": "_factory"}, "meta.backbone_name='_factory' is not one of"),
        ({"backbone_name": ["tf_lite0"]}, "meta.backbone_name=.* is not one of"),
        ({"model_name": "os.system"}, "meta.model_name='os.system': this library rebuilds"),
        ({"classes": "milk"}, "meta.classes must be a non-empty list of class names"),
        ({"classes": ["a", 3]}, "meta.classes must be a non-empty list of class names"),
    ],
)
def test_icevision_meta_is_validated_by_both_loaders(tmp_path, meta, message):
    model = build()
    good = {"classes": CLASSES, "model_name": "ross.efficientdet", "backbone_name": "tf_lite0",
            "img_size": 128}
    path = tmp_path / "bad.pth"
    torch.save({"meta": {**good, **meta}, "state_dict": model.state_dict()}, path)
    for load in (model_from_checkpoint, load_model):
        with pytest.raises(CheckpointError, match=message) as err:
            load(path)
        assert str(path) in str(err.value) and "\n" not in str(err.value)


def test_a_meta_without_img_size_says_both_fixes(tmp_path):
    path = tmp_path / "nosize.pth"
    torch.save({"meta": {"classes": CLASSES, "backbone_name": "tf_lite0"},
                "state_dict": build().state_dict()}, path)
    with pytest.raises(CheckpointError) as err:
        model_from_checkpoint(path)
    assert str(err.value) == (f"{path}: the file has no meta.img_size; pass img_size=... in "
                              "Python, or write a valid meta.img_size into the file")
    assert model_from_checkpoint(path, img_size=128)["img_size"] == 128


@pytest.mark.parametrize("written", [128.0, [128], [128.0, 128.0]])
def test_unambiguous_img_sizes_in_meta_are_read(tmp_path, written):
    """JSON's whole floats and IceVision's one-item square are the int they mean."""
    path = tmp_path / "ok.pth"
    torch.save({"meta": {"classes": CLASSES, "backbone_name": "tf_lite0", "img_size": written},
                "state_dict": build().state_dict()}, path)
    loaded = model_from_checkpoint(path)
    assert loaded["img_size"] == (128 if not isinstance(written, list) or len(written) == 1
                                  else (128, 128))


def test_class_names_that_the_model_does_not_predict_are_refused(tmp_path):
    """``classes=['a']`` for a model with two foreground classes: refused, nothing written (the
    file could never be loaded)."""
    from efficientdet_adapter.base.errors import ArgumentError

    model = build(num_classes=3)  # background + 2
    path = tmp_path / "x.pth"
    with pytest.raises(ArgumentError) as e:
        save_icevision_checkpoint(model, path, classes=["a"])
    assert str(e.value) == (
        f"{path}: classes=['a'] names 1 classes (besides background), but the model predicts 2; "
        "the file would not load. Pass the model's class names, e.g. "
        "classes=class_map.get_classes(); nothing written")
    with pytest.raises(ArgumentError, match=r"names 3 classes .* but the model predicts 2"):
        save_icevision_checkpoint(model, path, meta={"classes": ["background", "a", "b", "c"]})
    assert not path.exists()
    save_icevision_checkpoint(model, path, classes=["background", "a", "b"], img_size=128,
                              backbone_name="tf_lite0")
    assert model_from_checkpoint(path)["class_map"].foreground == ["a", "b"]
