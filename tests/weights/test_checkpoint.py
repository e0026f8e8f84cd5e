"""Checkpoints: one safe file round-trips the model; fastai and Lightning files load too."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from efficientdet_adapter.checkpoint import (
    CHECKPOINT_FORMAT,
    FORMAT_VERSION,
    convert_checkpoint,
    load_checkpoint_data,
    load_model,
    save_checkpoint,
)
from efficientdet_adapter.records.class_map import ClassMap
from efficientdet_adapter.base.errors import CheckpointError
from lightning_for_tests import lightning_or_skip, model_adapter

IMG = 128
CLASS_MAP = ClassMap(["circle", "square"])


def build(model_name="tf_efficientdet_lite0", class_map=CLASS_MAP, img_size=IMG, seed=0):
    from efficientdet_adapter.model.model import model

    torch.manual_seed(seed)
    m = model(model_name=model_name, num_classes=len(class_map), img_size=img_size)
    with torch.no_grad():  # make the weights differ from any fresh model's
        for p in m.model.class_net.parameters():
            p.add_(torch.randn_like(p) * 0.1)
    return m.eval()


def outputs(model, seed=1):
    x = torch.randn(1, 3, *model.config.img_size, generator=torch.Generator().manual_seed(seed))
    with torch.no_grad():
        cls_out, box_out = model.model(x)
    return torch.cat([t.flatten() for t in cls_out + box_out])


def same_weights(a, b) -> bool:
    sa, sb = a.model.state_dict(), b.model.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


@pytest.fixture(scope="module")
def lite():
    return build()


@pytest.mark.parametrize(
    "model_name,img_size", [("tf_efficientdet_lite0", IMG), ("efficientdet_d0", (128, 256))]
)
def test_round_trip(tmp_path, model_name, img_size):
    model = build(model_name, img_size=img_size)
    path = save_checkpoint(model, tmp_path / "sub" / "model.pt", CLASS_MAP, extra={"epochs": 3})

    raw = torch.load(path, weights_only=True)  # plain data all the way down
    assert raw["format"] == CHECKPOINT_FORMAT and raw["format_version"] == FORMAT_VERSION
    assert raw["model_name"] == model_name and raw["num_classes"] == 3
    h, w = (img_size, img_size) if isinstance(img_size, int) else img_size
    assert raw["img_size"] == [h, w]
    assert raw["class_map"] == {"classes": ["circle", "square"], "background": "background"}
    assert raw["mean"] == [float(v) for v in model.config.mean] and len(raw["std"]) == 3
    assert raw["extra"] == {"epochs": 3}
    assert not any(k.startswith("model.") for k in raw["state_dict"])

    loaded, class_map, config = load_model(path)
    assert class_map == CLASS_MAP
    assert (config.model_name, tuple(config.img_size), config.num_classes) == (model_name, (h, w), 3)
    assert not loaded.training
    assert same_weights(model, loaded)
    assert torch.equal(outputs(model), outputs(loaded))


def test_pickled_object_is_refused_and_never_runs(tmp_path, lite):
    sentinel = tmp_path / "pwned"

    class Payload:  # unpickling this would create the sentinel file
        def __reduce__(self):
            return (open, (str(sentinel), "w"))

    path = tmp_path / "evil.pt"
    torch.save({"format": CHECKPOINT_FORMAT, "format_version": 1, "extra": Payload(),
                "state_dict": lite.model.state_dict()}, path)
    # the object's name as torch reports it (io.open here, builtins.open with other versions)
    with pytest.raises(CheckpointError, match=r"evil\.pt: refused to load: .*pickled Python object \(\w+\.open\)"):
        load_model(path)
    assert not sentinel.exists()


def test_fastai_learn_save_file(tmp_path, lite):
    pytest.importorskip("fastai")
    from fastai.learner import save_model
    from fastai.optimizer import Adam

    opt = Adam(list(lite.parameters()), lr=1e-3)
    path = tmp_path / "models" / "model.pth"
    path.parent.mkdir()
    save_model(path, lite, opt, with_opt=True)  # what learn.save("model") writes
    assert load_checkpoint_data(path)["layout"] == "fastai"

    with pytest.raises(CheckpointError, match=r"fastai file holds only weights.*class_map.*model_name"):
        load_model(path)
    model, class_map, config = load_model(
        path, class_map=CLASS_MAP, model_name="tf_efficientdet_lite0", img_size=IMG
    )
    assert same_weights(lite, model) and class_map == CLASS_MAP

    converted = convert_checkpoint(path, tmp_path / "converted.pt", class_map=CLASS_MAP,
                                   model_name="tf_efficientdet_lite0", img_size=IMG)
    assert load_checkpoint_data(converted)["extra"] == {"converted_from": str(path)}
    again, _, _ = load_model(converted)
    assert same_weights(lite, again)


def test_bare_state_dict_with_wrong_class_map(tmp_path, lite):
    path = tmp_path / "bare.pt"
    torch.save(lite.state_dict(), path)
    with pytest.raises(CheckpointError, match=r"predicts 2 foreground classes but the class map has 3"):
        load_model(path, class_map=ClassMap(["a", "b", "c"]),
                              model_name="tf_efficientdet_lite0", img_size=IMG)
    with pytest.raises(CheckpointError, match=r"weights do not fit the model.*model_name"):
        load_model(path, class_map=CLASS_MAP, model_name="efficientdet_d0", img_size=IMG)


def test_lightning_model_checkpoint_file(tmp_path):
    pl = lightning_or_skip()
    from efficientdet_adapter.records.bbox import BBox
    from efficientdet_adapter.loop.dataloaders import train_dl
    ModelAdapter = model_adapter()
    from efficientdet_adapter.records.record import Record

    class Light(ModelAdapter):
        def configure_optimizers(self):
            return torch.optim.SGD(self.parameters(), lr=1e-3)

    rng = np.random.default_rng(0)
    records = [
        Record(i, None, IMG, IMG, labels=["circle"], label_ids=[1],
               bboxes=[BBox.from_xyxy(10, 20, 60, 90)], class_map=CLASS_MAP,
               img=rng.standard_normal((IMG, IMG, 3)).astype(np.float32))
        for i in range(2)
    ]
    model = build()
    ckpt = pl.callbacks.ModelCheckpoint(dirpath=tmp_path, filename="last")
    trainer = pl.Trainer(max_steps=1, callbacks=[ckpt], logger=False, enable_progress_bar=False,
                         enable_model_summary=False, accelerator="cpu")
    trainer.fit(Light(model), train_dl(records, batch_size=2))
    path = tmp_path / "last.ckpt"
    assert any(k.startswith("model.model.") for k in torch.load(path, weights_only=True)["state_dict"])

    loaded, _, _ = load_model(
        path, class_map=CLASS_MAP, model_name="tf_efficientdet_lite0", img_size=IMG
    )
    assert same_weights(model, loaded)  # the weights after the training step


@pytest.mark.parametrize(
    "content,message",
    [
        ([1, 2, 3], r"unknown checkpoint layout"),
        ({"format": CHECKPOINT_FORMAT, "format_version": 99}, r"version 99 is newer"),
        ({"optimizer": {"lr": 0.1}}, r"unknown checkpoint layout \(top level: \['optimizer'\]\)"),
    ],
)
def test_unusable_files(tmp_path, content, message):
    path = tmp_path / "x.pt"
    torch.save(content, path)
    with pytest.raises(CheckpointError, match=message):
        load_model(path)


def test_missing_file(tmp_path):
    with pytest.raises(CheckpointError, match=r"nope\.pt: checkpoint file not found"):
        load_model(tmp_path / "nope.pt")


@pytest.mark.parametrize("cut", [None, 4, 16, 2000, -100])
def test_corrupt_files(tmp_path, lite, cut):
    good = save_checkpoint(lite, tmp_path / "good.pt", CLASS_MAP).read_bytes()
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"not a checkpoint" if cut is None else good[:cut])
    with pytest.raises(CheckpointError, match=r"junk\.pt: not a readable PyTorch checkpoint"):
        load_model(junk)


def test_save_refuses_what_would_not_load(tmp_path, lite):
    with pytest.raises(CheckpointError, match=r"extra\['when'\] is a datetime"):
        import datetime

        save_checkpoint(lite, tmp_path / "a.pt", CLASS_MAP, extra={"when": datetime.datetime.now()})
    with pytest.raises(CheckpointError, match=r"class map has 4 classes .* model predicts 3"):
        save_checkpoint(lite, tmp_path / "b.pt", ClassMap(["a", "b", "c"]))
    assert not (tmp_path / "a.pt").exists() and not (tmp_path / "b.pt").exists()


# -- files a user did not write ------------------------------------------------------------------
def _tiny(tmp_path):
    from efficientdet_adapter.checkpoint import save_checkpoint
    from efficientdet_adapter.records.class_map import ClassMap
    from efficientdet_adapter.model.model import model

    cm = ClassMap(["a", "b"])
    m = model(model_name="tf_efficientdet_lite0", num_classes=len(cm), img_size=128,
              pretrained_backbone=False)
    return save_checkpoint(m, tmp_path / "model.pt", cm), m, cm


@pytest.mark.parametrize("where", ["img_size", "model_config"])
def test_crafted_huge_img_size_is_refused_before_building(tmp_path, where):
    import time

    import torch

    from efficientdet_adapter.checkpoint import load_model
    from efficientdet_adapter.base.errors import CheckpointError

    path, _, _ = _tiny(tmp_path)
    data = torch.load(path, weights_only=False)
    if where == "img_size":
        data["img_size"] = [65536, 65536]
    else:
        data["model_config"]["img_size"] = [65536, 65536]
    torch.save(data, path)
    start = time.perf_counter()
    with pytest.raises(CheckpointError, match=r"model\.pt: img_size .*65536.* not a size in "
                                              r"1\.\.4096"):
        load_model(path)
    assert time.perf_counter() - start < 10


def test_bare_state_dict_default_img_size_is_valid(tmp_path):
    import torch

    from efficientdet_adapter.checkpoint import load_model

    _, m, cm = _tiny(tmp_path)
    bare = tmp_path / "bare.pth"
    torch.save(m.state_dict(), bare)
    model, class_map, config = load_model(bare, class_map=cm,
                                                     model_name="tf_efficientdet_lite0")
    assert config.img_size == (384, 384)  # effdet's 320, rounded up to a multiple of 128
    assert class_map == cm


def test_checkpoint_module_is_the_public_face_of_weights():
    """efficientdet_adapter.checkpoint offers every public name, from weights/ (the same
    objects), and no private re-exports of an internal layout (issue 20)."""
    import efficientdet_adapter.checkpoint as face
    from efficientdet_adapter.base import atomic
    from efficientdet_adapter.model.config import MAX_IMG_SIZE
    from efficientdet_adapter.checkpoints import checkpoint as core
    from efficientdet_adapter.weights import icevision, state_dict

    assert face.__all__ == ["CHECKPOINT_FORMAT", "FORMAT_VERSION", "save_checkpoint",
                            "atomic_torch_save", "load_checkpoint_data", "load_model",
                            "model_from_data", "model_from_checkpoint", "CheckpointAndModel",
                            "convert_checkpoint", "save_icevision_checkpoint", "InferenceModel",
                            "load_for_inference"]
    for name in face.__all__:
        assert hasattr(face, name), name
    for name in ["_network", "_check_plain", "_umask", "MAX_IMG_SIZE"]:
        assert not hasattr(face, name), name
    assert face.save_checkpoint is core.save_checkpoint
    assert face.load_model is core.load_model
    from efficientdet_adapter.models import checkpoint as icevision_face

    assert face.model_from_checkpoint is icevision_face.model_from_checkpoint
    assert face.atomic_torch_save is atomic.atomic_torch_save
    assert face.load_checkpoint_data is state_dict.load_checkpoint_data
    assert face.save_icevision_checkpoint is icevision.save_icevision_checkpoint
    assert MAX_IMG_SIZE == 4096


def test_background_listed_among_the_classes_is_named_with_the_fix(tmp_path):
    """A file whose class map lists the background among its classes (IceVision's habit) gets
    one line naming the file, the class and the fix, not ClassMap's message about ClassMap()."""
    path, _, _ = _tiny(tmp_path)
    data = torch.load(path, weights_only=False)
    data["class_map"]["classes"] = ["background", *data["class_map"]["classes"]]
    torch.save(data, path)
    with pytest.raises(CheckpointError) as caught:
        load_model(path)
    message = str(caught.value)
    assert message.startswith(f"{path}: its class map lists the background class 'background'")
    assert "foreground classes only" in message and "ClassMap(" not in message
    assert "\n" not in message
