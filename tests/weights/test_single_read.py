"""Every file is read once and dispatched on what was read (issue 20): ``torch.load`` is counted
while the loaders and the ``predict`` command run. And ``model_from_checkpoint`` always returns
IceVision's dict, ``load_model`` the library's own tuple, whatever the file and the arguments."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from efficientdet_adapter import efficientdet
from efficientdet_adapter.checkpoint import (
    CheckpointAndModel,
    load_model,
    model_from_checkpoint,
    save_checkpoint,
    save_icevision_checkpoint,
)
from efficientdet_adapter.records.class_map import ClassMap

CLASSES = ["background", "milk_bottle", "carton"]


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """The same untrained lite0 (128 px, 2 classes) in every layout the loaders read."""
    folder = tmp_path_factory.mktemp("layouts")
    torch.manual_seed(0)
    model = efficientdet.model(model_name="tf_efficientdet_lite0", num_classes=3, img_size=128,
                               pretrained_backbone=False).eval()
    ours = save_checkpoint(model, folder / "model.pt", ClassMap(CLASSES[1:]))
    ice = save_icevision_checkpoint(model, folder / "ice.pth", model_name="ross.efficientdet",
                                    backbone_name="tf_lite0", classes=CLASSES, img_size=128)
    bare = folder / "bare.pth"
    torch.save(model.model.state_dict(), bare)
    fastai = folder / "fastai.pth"
    torch.save({"model": model.state_dict(), "opt": {}}, fastai)
    return {"adapter": ours, "icevision": ice, "state_dict": bare, "fastai": fastai}


@pytest.fixture
def loads(monkeypatch):
    """The paths ``torch.load`` is called with (every reader of the package goes through it)."""
    seen: list[str] = []
    real = torch.load

    def counting(f, *args, **kwargs):
        seen.append(str(f))
        return real(f, *args, **kwargs)

    monkeypatch.setattr(torch, "load", counting)
    return seen


#: (layout, IceVision's arguments the file lacks)
NEEDS = {
    "adapter": {},
    "icevision": {},
    "state_dict": {"backbone_name": "tf_lite0", "classes": CLASSES, "img_size": 128},
    "fastai": {"backbone_name": "tf_lite0", "classes": CLASSES, "img_size": 128},
}


@pytest.mark.parametrize("layout", list(NEEDS))
def test_model_from_checkpoint_reads_the_file_once(files, loads, layout):
    loaded = model_from_checkpoint(files[layout], **NEEDS[layout])
    assert loads == [str(files[layout])]
    assert isinstance(loaded, CheckpointAndModel)
    assert loaded["class_map"] == ClassMap(CLASSES[1:])


@pytest.mark.parametrize("layout", ["adapter", "icevision"])
def test_load_model_reads_the_file_once(files, loads, layout):
    model, class_map, config = load_model(files[layout])
    assert loads == [str(files[layout])]
    assert class_map == ClassMap(CLASSES[1:]) and config.img_size == (128, 128)


@pytest.mark.parametrize(
    "layout, kwargs, img_size",
    [
        ("adapter", {}, (128, 128)),  # a path alone: IceVision's dict, not a tuple
        ("adapter", {"img_size": 256}, 256),
        ("adapter", {"device": "cpu", "eval_mode": False}, (128, 128)),
        ("icevision", {}, 128),
        ("icevision", {"classes": ["x", "y"], "img_size": [128, 256]}, (128, 256)),
        ("icevision", {"model_name": "ross.efficientdet", "backbone_name": "tf_lite0",
                       "strict": True, "map_location": "cpu"}, 128),
        ("state_dict", NEEDS["state_dict"], 128),
        ("fastai", {**NEEDS["fastai"], "is_coco": False, "revise_keys": []}, 128),
    ],
)
def test_model_from_checkpoint_always_returns_icevision_dict(files, layout, kwargs, img_size):
    loaded = model_from_checkpoint(files[layout], **kwargs)
    assert isinstance(loaded, CheckpointAndModel) and not isinstance(loaded, tuple)
    assert list(loaded) == ["model", "model_type", "backbone", "class_map", "img_size",
                            "checkpoint", "model_name", "backbone_name"]
    assert loaded["model_type"] is efficientdet and loaded["backbone_name"] == "tf_lite0"
    assert loaded["model"].training is (kwargs.get("eval_mode") is False)
    assert loaded["img_size"] == img_size


@pytest.mark.parametrize("layout", ["adapter", "icevision", "state_dict", "fastai"])
def test_load_model_always_returns_the_library_tuple(files, layout):
    extra = {} if layout in ("adapter", "icevision") else {
        "class_map": ClassMap(CLASSES[1:]), "model_name": "tf_efficientdet_lite0",
        "img_size": 128}
    result = load_model(files[layout], **extra)
    assert isinstance(result, tuple) and len(result) == 3
    model, class_map, config = result
    assert class_map == ClassMap(CLASSES[1:])
    assert config.model_name == "tf_efficientdet_lite0" and config.img_size == (128, 128)
    assert not model.training


def test_predict_command_reads_model_pt_once(files, loads, tmp_path, capsys):
    from efficientdet_adapter.app.cli import main

    photos = tmp_path / "photos"
    photos.mkdir()
    rng = np.random.default_rng(0)
    for name in ("a.png", "b.png"):
        Image.fromarray(rng.integers(0, 255, (96, 120, 3), dtype=np.uint8)).save(photos / name)
    rc = main(["predict", str(photos), "--checkpoint", str(files["adapter"]),
               "--out", str(tmp_path / "out"), "--no-images", "--device", "cpu"])
    assert rc == 0, capsys.readouterr().err
    assert loads == [str(files["adapter"])]
    assert "in 2 images" in capsys.readouterr().out


@pytest.mark.parametrize("content, message", [
    (b"not a checkpoint at all", r"junk\.pth: not a readable PyTorch checkpoint"),
    (None, r"junk\.pth: (checkpoint|weights) file not found"),
])
def test_one_reader_one_error_for_every_entry_point(tmp_path, content, message):
    """Weights for pretrained=, backbone files, checkpoints: the same reader, the same error
    (a CheckpointError, which is a WeightsError), the same message."""
    from efficientdet_adapter.base.errors import CheckpointError, WeightsError
    from efficientdet_adapter.weights.state_dict import load_checkpoint_data, read_state_dict

    path = tmp_path / "junk.pth"
    if content is not None:
        path.write_bytes(content)
    calls = [
        lambda: read_state_dict(path),
        lambda: load_checkpoint_data(path),
        lambda: load_model(path),
        lambda: model_from_checkpoint(path, backbone_name="tf_lite0", classes=CLASSES,
                                      img_size=128),
        lambda: efficientdet.model(model_name="tf_efficientdet_lite0", num_classes=3,
                                   img_size=128, pretrained=path),
        lambda: efficientdet.model(model_name="tf_efficientdet_lite0", num_classes=3,
                                   img_size=128, pretrained_backbone=path),
    ]
    assert issubclass(CheckpointError, WeightsError)
    for call in calls:
        with pytest.raises(CheckpointError, match=message):
            call()


def test_efficientdet_weights_is_the_weights_package():
    from efficientdet_adapter import weights
    from efficientdet_adapter.efficientdet import weights as via_efficientdet

    assert via_efficientdet is weights
    assert weights.packaged_backbone("lite2-package").backbone == "tf_efficientnet_lite2"
    assert sorted(weights.PACKAGED_BACKBONES) == ["imagenet-lite0", "imagenet-lite1",
                                                  "imagenet-lite2"]
