"""efficientdet.model: call forms, validation, forward contract, param groups, normalization."""

from __future__ import annotations

import json

import pytest
import torch
from effdet.config.model_config import efficientdet_model_param_dict

from efficientdet_adapter import ClassMap
from efficientdet_adapter.base.errors import BatchError
from efficientdet_adapter.model import backbones
from efficientdet_adapter.model.ops.targets import anchor_label_targets
from efficientdet_adapter.model.model import (
    IMAGENET_MEAN,
    IMAGENET_STD,
    EfficientDetModel,
    ModelConfig,
    ModelConfigError,
    anchor_labeler,
    list_models,
    mean_std,
    model,
    normalize_tfm,
    param_groups,
)

LITE0 = "tf_efficientdet_lite0"


def _shapes(m: torch.nn.Module) -> dict[str, tuple[int, ...]]:
    return {k: tuple(v.shape) for k, v in m.state_dict().items()}


def _targets(img: int = 128) -> dict[str, list[torch.Tensor]]:
    """Two images: one with two boxes (yxyx pixels, 1-based classes), one negative."""
    return {
        "bbox": [
            torch.tensor([[8.0, 10.0, 70.0, 90.0], [60.0, 50.0, 120.0, 126.0]]),
            torch.zeros(0, 4),
        ],
        "cls": [torch.tensor([1.0, 2.0]), torch.zeros(0)],
    }


@pytest.fixture(scope="module")
def lite0() -> EfficientDetModel:
    torch.manual_seed(0)
    return model(model_name=LITE0, num_classes=3, img_size=128)


# --- call forms -----------------------------------------------------------------------------
def test_both_call_forms_build_the_same_model(lite0):
    by_spec = model(backbones.tf_lite0(pretrained=False), num_classes=3, img_size=128)
    assert by_spec.config == lite0.config
    assert _shapes(by_spec) == _shapes(lite0)
    assert isinstance(by_spec, EfficientDetModel)
    assert by_spec.anchor_labeler is not None  # the bench labels the boxes itself


def test_model_reports_its_config(lite0):
    cfg = lite0.config
    assert (cfg.model_name, cfg.num_classes, cfg.img_size) == (LITE0, 3, (128, 128))
    assert cfg.num_foreground == 2
    effdet_cfg = lite0.effdet_config
    assert effdet_cfg.num_classes == 2 and tuple(effdet_cfg.image_size) == (128, 128)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(num_classes=3, img_size=128), "give model_name"),
        (dict(backbone=backbones.tf_lite1(), model_name=LITE0, num_classes=3, img_size=128),
         "disagree"),
        (dict(backbone=object(), num_classes=3, img_size=128), "efficientdet.backbones"),
        (dict(model_name=LITE0, img_size=128), "len(class_map)"),
    ],
)
def test_model_call_errors(kwargs, message):
    with pytest.raises(ModelConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
        model(**kwargs)


def test_backbone_function_passed_without_calling_it():
    assert model(backbones.tf_lite0, num_classes=2, img_size=128).config.model_name == LITE0


# --- names ------------------------------------------------------------------------------------
def test_list_models_is_effdet_registry():
    assert list_models() == sorted(efficientdet_model_param_dict)
    lites = list_models("tf_efficientdet_lite*")
    prefix = "tf_efficientdet_lite"
    assert lites == sorted(k for k in efficientdet_model_param_dict if k.startswith(prefix))
    assert LITE0 in lites and len(lites) == 6


@pytest.mark.parametrize("name", sorted(efficientdet_model_param_dict))
def test_every_effdet_config_name_is_accepted(name):
    stride = 2 ** efficientdet_model_param_dict[name].get("max_level", 7)
    cfg = ModelConfig(name, num_classes=4, img_size=2 * stride)
    assert cfg.model_name == name and cfg.img_size == (2 * stride, 2 * stride)


@pytest.mark.parametrize(
    "name, expected",
    [("tf_efficientdet_lite", "tf_efficientdet_lite0"), ("efficientdet_d9", "efficientdet_d0"),
     ("tf_efficientdet_d0ap", "tf_efficientdet_d0_ap")],
)
def test_unknown_name_lists_close_matches(name, expected):
    with pytest.raises(ModelConfigError, match="did you mean") as e:
        model(model_name=name, num_classes=2, img_size=128)
    assert expected in str(e.value) and "list_models" in str(e.value)


# A representative of every backbone/FPN family effdet 0.4.1 builds: one real forward each.
@pytest.mark.slow
@pytest.mark.parametrize(
    "name",
    ["efficientdet_d0", "tf_efficientdet_d0_ap", "efficientdet_q0", "efficientdet_w0",
     "mobiledetv3_large", "mixdet_m", "efficientdetv2_dt", "cspresdext50pan", "efficientdet_lite0"],
)
def test_other_families_build_and_train(name):
    m = model(model_name=name, num_classes=3, img_size=128)
    out = m(torch.rand(2, 3, 128, 128), _targets())
    assert torch.isfinite(out["loss"]) and out["loss"].item() > 0
    predict = m.model.class_net.predict
    conv = getattr(predict, "conv_pw", None) or predict.conv  # separable or plain head conv
    cfg = m.effdet_config
    assert conv.out_channels == 2 * cfg.num_scales * len(cfg.aspect_ratios)


# --- num_classes and img_size ---------------------------------------------------------------
@pytest.mark.parametrize("num_classes", [2, 3, 11])
def test_num_classes_includes_background(num_classes):
    class_map = ClassMap([f"c{i}" for i in range(num_classes - 1)])
    m = model(model_name=LITE0, num_classes=len(class_map), img_size=128)
    anchors_per_location = 9  # effdet default: 3 scales x 3 aspect ratios
    out_channels = m.model.class_net.predict.conv_pw.out_channels
    assert out_channels == (num_classes - 1) * anchors_per_location
    assert m.num_classes == num_classes - 1


@pytest.mark.parametrize("num_classes", [1, 0, -3, True, 2.5, "3"])
def test_num_classes_below_two_is_refused(num_classes):
    with pytest.raises(ModelConfigError, match="counts the background"):
        model(model_name=LITE0, num_classes=num_classes, img_size=128)


@pytest.mark.parametrize(
    "img_size, expected",
    [(128, (128, 128)), (384, (384, 384)), ((256, 384), (256, 384)), ([128, 512], (128, 512))],
)
def test_img_size_int_or_height_width(img_size, expected):
    assert ModelConfig(LITE0, 3, img_size).img_size == expected


@pytest.mark.parametrize(
    "name, img_size, nearest",
    [
        (LITE0, 300, "256 or 384"),
        (LITE0, 320, "256 or 384"),
        (LITE0, (384, 500), "384 or 512"),
        (LITE0, 100, "128"),
        (LITE0, 0, "128"),
        (LITE0, -128, "128"),
        ("tf_efficientdet_d7x", 384, "256 or 512"),  # max_level 8: stride 256
    ],
)
def test_img_size_not_multiple_of_stride_names_nearest_sizes(name, img_size, nearest):
    with pytest.raises(ModelConfigError, match="multiple of") as e:
        ModelConfig(name, 3, img_size)
    side = img_size[1] if isinstance(img_size, tuple) else img_size
    assert f"nearest valid sizes for {side}: {nearest}" in str(e.value)


@pytest.mark.parametrize("img_size", ["384", 384.0, (384,), (128, 128, 128), True])
def test_img_size_of_wrong_type_is_refused(img_size):
    with pytest.raises(ModelConfigError, match="img_size must be an int or a"):
        ModelConfig(LITE0, 3, img_size)


def test_default_img_size_is_config_size_rounded_up():
    # effdet's lite0 default is 320, not a multiple of 128: the model uses 384.
    assert ModelConfig(LITE0, 2, 384) == model(model_name=LITE0, num_classes=2).config


def test_non_square_img_size_runs():
    m = model(model_name=LITE0, num_classes=3, img_size=(128, 256)).eval()
    out = m(torch.rand(1, 3, 128, 256), {"bbox": [torch.tensor([[5.0, 5.0, 100.0, 200.0]])],
                                          "cls": [torch.tensor([2.0])]})
    assert out["detections"].shape == (1, 100, 6)


# --- effdet settings ----------------------------------------------------------------------------
def test_effdet_kwargs_reach_effdet_config():
    m = model(model_name=LITE0, num_classes=3, img_size=128, max_det_per_image=7, anchor_scale=3.5)
    assert m.effdet_config.max_det_per_image == 7 and m.effdet_config.anchor_scale == 3.5
    assert m.config.effdet_kwargs == {"max_det_per_image": 7, "anchor_scale": 3.5}
    m.eval()
    with torch.no_grad():
        assert m(torch.rand(2, 3, 128, 128), _targets())["detections"].shape == (2, 7, 6)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"max_det_per_imag": 5}, "did you mean max_det_per_image"),
        ({"image_size": 384}, "img_size="),
        ({"url": "x"}, "set by efficientdet.model"),
    ],
)
def test_bad_effdet_kwargs(kwargs, message):
    with pytest.raises(ModelConfigError, match=message):
        model(model_name=LITE0, num_classes=3, img_size=128, **kwargs)


def test_few_anchors_and_one_class_still_detect():
    # 128 px has 3069 anchors; with one foreground class effdet's top-5000 would fail.
    m = model(model_name=LITE0, num_classes=2, img_size=128).eval()
    assert m.max_detection_points == 3069
    with torch.no_grad():
        det = m(torch.rand(1, 3, 128, 128), {"bbox": [torch.zeros(0, 4)], "cls": [torch.zeros(0)]})
    assert det["detections"].shape == (1, 100, 6)


# --- forward ------------------------------------------------------------------------------------
def test_train_forward_returns_three_losses(lite0):
    lite0.train()
    out = lite0(torch.rand(2, 3, 128, 128), _targets())
    assert set(out) == {"loss", "class_loss", "box_loss"}
    assert torch.isfinite(out["loss"]) and out["loss"].requires_grad
    assert out["loss"].item() == pytest.approx(
        out["class_loss"].item() + 50.0 * out["box_loss"].item(), rel=1e-5  # box_loss_weight 50
    )


def test_eval_forward_adds_scaled_detections(lite0):
    lite0.eval()
    images = torch.rand(2, 3, 128, 128)
    # Both images clip to the same 1000 px square in model pixels; image 1 is then scaled by 2.
    unit = {"img_size": torch.full((2, 2), 1000.0), "img_scale": torch.ones(2)}
    scaled = {
        "img_size": torch.tensor([[1000.0] * 2, [2000.0] * 2]),
        "img_scale": torch.tensor([1.0, 2.0]),
    }
    with torch.no_grad():
        out = lite0(images, {**_targets(), **scaled})
        ref = lite0(images, {**_targets(), **unit})
    lite0.train()
    det, ref_det = out["detections"], ref["detections"]
    assert det.shape == (2, 100, 6) and set(out) == {"loss", "class_loss", "box_loss", "detections"}
    assert torch.equal(det[0], ref_det[0])
    assert torch.allclose(det[1, :, :4], ref_det[1, :, :4] * 2, atol=1e-4)
    assert torch.equal(det[1, :, 4:], ref_det[1, :, 4:])  # scores and classes unchanged
    assert ref_det[..., :4].min() >= 0  # clipped to the image
    classes = ref_det[..., 5][ref_det[..., 4] > 0]
    assert classes.min() >= 1 and classes.max() <= 2  # 1-based, 2 foreground classes
    assert torch.equal(out["loss"], ref["loss"])


def test_detect_matches_eval_forward(lite0):
    lite0.eval()
    images = torch.rand(1, 3, 128, 128)
    with torch.no_grad():
        negative = {"bbox": [torch.zeros(0, 4)], "cls": [torch.zeros(0)]}
        expected = lite0(images, negative)["detections"]
    assert torch.equal(lite0.detect(images), expected)
    lite0.train()


@pytest.mark.parametrize("training", [True, False])
def test_precomputed_anchor_labels_give_the_same_loss(lite0, training):
    lite0.train(training)
    images = torch.rand(2, 3, 128, 128)
    targets = _targets()
    labels = anchor_label_targets(anchor_labeler(lite0.config), targets["bbox"], targets["cls"])
    assert labels["label_num_positives"].tolist()[1] == 0 and labels["label_num_positives"][0] > 0
    with torch.no_grad():
        labeled_here = lite0(images, targets)
        precomputed = lite0(images, labels)  # no bbox/cls at all: the labels alone suffice
    for key in ("loss", "class_loss", "box_loss"):
        assert torch.allclose(labeled_here[key], precomputed[key], rtol=1e-6, atol=0), key
    lite0.train()


def test_incomplete_precomputed_labels_are_refused(lite0):
    targets = _targets()
    labels = anchor_label_targets(anchor_labeler(lite0), targets["bbox"], targets["cls"])
    del labels["label_bbox_4"]
    with pytest.raises(BatchError, match="label_bbox_4"):
        lite0(torch.rand(2, 3, 128, 128), labels)


def test_targets_without_boxes_are_refused(lite0):
    with pytest.raises(BatchError, match="'bbox' and 'cls'"):
        lite0(torch.rand(1, 3, 128, 128), {"img_size": torch.ones(1, 2)})


# --- param groups -------------------------------------------------------------------------------
def test_param_groups_cover_every_parameter_once(lite0):
    groups = param_groups(lite0)
    assert len(groups) == 3
    ids = [id(p) for g in groups for p in g]
    assert len(ids) == len(set(ids)) == len(list(lite0.parameters()))
    names = {id(p): n for n, p in lite0.named_parameters()}
    prefixes = [("model.backbone.",), ("model.fpn.",), ("model.class_net.", "model.box_net.")]
    for group, allowed in zip(groups, prefixes):
        assert group and all(names[id(p)].startswith(allowed) for p in group)
    assert lite0.param_groups() == groups  # IceVision's method form


def test_param_groups_through_wrappers(lite0):
    class Adapter(torch.nn.Module):  # like a Lightning module holding the model
        def __init__(self, model):
            super().__init__()
            self.model = model

    expected = [[id(p) for p in g] for g in param_groups(lite0)]
    for wrapped in (Adapter(lite0), lite0.model, Adapter(Adapter(lite0))):
        assert [[id(p) for p in g] for g in param_groups(wrapped)] == expected
    with pytest.raises(TypeError, match="EfficientDet"):
        param_groups(torch.nn.Linear(2, 2))


# --- normalization ------------------------------------------------------------------------------
@pytest.mark.parametrize("name", sorted(efficientdet_model_param_dict))
def test_mean_std_lite_and_ap_use_half(name):
    half = (name.startswith("tf_efficientdet_lite") or name.endswith("_ap"))
    mean, std = mean_std(name)
    assert (mean, std) == (((0.5,) * 3, (0.5,) * 3) if half else (IMAGENET_MEAN, IMAGENET_STD))


def test_normalize_tfm_uses_model_statistics(lite0):
    np = pytest.importorskip("numpy")
    tfm = normalize_tfm(lite0)
    assert tuple(tfm.mean) == lite0.config.mean and tuple(tfm.std) == lite0.config.std
    img = np.array([[[0, 128, 255]]], dtype=np.uint8)
    out = tfm(image=img)["image"]
    expected = [(v / 255 - 0.5) / 0.5 for v in (0, 128, 255)]
    assert out[0, 0].tolist() == pytest.approx(expected, abs=1e-6)
    imagenet = normalize_tfm(ModelConfig("efficientdet_d0", 2, 128))
    assert tuple(imagenet.mean) == IMAGENET_MEAN and tuple(imagenet.std) == IMAGENET_STD


# --- config round trip ----------------------------------------------------------------------------
def test_config_round_trips_through_json_and_rebuilds(lite0):
    cfg = ModelConfig(LITE0, 5, (128, 256), effdet_kwargs={"max_det_per_image": 20})
    again = ModelConfig.from_dict(json.loads(json.dumps(cfg.to_dict())))
    assert again == cfg
    rebuilt = EfficientDetModel.from_config(again)
    direct = model(model_name=LITE0, num_classes=5, img_size=(128, 256), max_det_per_image=20)
    assert rebuilt.config == direct.config and _shapes(rebuilt) == _shapes(direct)
    with pytest.raises(ModelConfigError, match="lacks"):
        ModelConfig.from_dict({"model_name": LITE0})


def test_explicit_mean_std_override_the_model_default():
    m = model(model_name="efficientdet_d0", num_classes=2, img_size=128, mean=(0.1, 0.2, 0.3),
              std=(0.4, 0.5, 0.6))
    assert (m.config.mean, m.config.std) == ((0.1, 0.2, 0.3), (0.4, 0.5, 0.6))
    assert m.config.effdet_kwargs == {}
    with pytest.raises(ModelConfigError, match="3 values"):
        ModelConfig(LITE0, 2, 128, mean=(0.5, 0.5))
