"""efficientdet.fastai: a real fastai Learner over the plain steps of engines.steps."""

from __future__ import annotations

import importlib
import sys

import numpy as np
import pytest
import torch
from fastai.callback.core import Callback
from fastai.learner import Learner

from efficientdet_adapter import tfms
from efficientdet_adapter.records.dataset import Dataset
from efficientdet_adapter.app.demo import demo_class_map, demo_records
from efficientdet_adapter.efficientdet import model as create_model
from efficientdet_adapter.efficientdet import normalize_tfm
from efficientdet_adapter.loop.dataloaders import train_dl, valid_dl
from efficientdet_adapter.efficientdet.fastai import fastai_metrics, learner
from efficientdet_adapter.loop.steps import validation_step
from efficientdet_adapter.metrics import COCOMetric

SIZE = 128


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    """8 training images (2 batches of 4) and 5 validation images (batches of 2, 2 and 1)."""
    splits = demo_records(tmp_path_factory.mktemp("demo"), num_images=13, splits=(8 / 13, 5 / 13, 0))
    assert [len(splits["train"]), len(splits["valid"])] == [8, 5]
    return splits


def make_learner(data, tmp_path, metrics=None, **kwargs):
    torch.manual_seed(0)
    model = create_model(model_name="tf_efficientdet_lite0", num_classes=len(demo_class_map()),
                         img_size=SIZE)
    tfm = tfms.A.Adapter([*tfms.A.resize_and_pad(SIZE), normalize_tfm(model)])
    dls = [train_dl(Dataset(data["train"], tfm), batch_size=4, shuffle=True),
           valid_dl(Dataset(data["valid"], tfm), batch_size=2)]
    kwargs.setdefault("device", "cpu")  # these tests compare with CPU computations
    learn = learner(dls, model, metrics=metrics, path=tmp_path, **kwargs)
    learn.remove_cb(learn.progress)  # no progress bars in test logs
    return learn


def direct_validation(model, dl):
    """Per-batch losses and sizes, and a COCOMetric fed directly by engines.steps."""
    metric, losses, sizes = COCOMetric(), [], []
    for batch in dl:
        batch_losses, preds = validation_step(model, batch)
        metric.accumulate(preds)
        losses.append(float(batch_losses["loss"]))
        sizes.append(len(preds))
    return np.array(losses), np.array(sizes), metric.finalize()


def test_learner_is_a_fastai_learner_with_three_param_groups(data, tmp_path):
    learn = make_learner(data, tmp_path)
    learn.create_opt()
    assert isinstance(learn, Learner)
    assert len(learn.opt.param_lists) == 3  # backbone, fpn, heads
    n_params = sum(1 for _ in learn.model.parameters())
    assert sum(len(g) for g in learn.opt.param_lists) == n_params


def test_validation_loss_is_averaged_per_image(data, tmp_path):
    """fastai weights each batch's loss by find_bs(yb): it must be the number of images."""
    learn = make_learner(data, tmp_path)
    valid_loss = learn.validate()[0]
    losses, sizes, _ = direct_validation(learn.model, learn.dls.valid)
    assert sizes.tolist() == [2, 2, 1]
    per_image = float((losses * sizes).sum() / sizes.sum())
    assert valid_loss == pytest.approx(per_image, rel=1e-5)
    # the weighting matters here: a mean over batches would differ
    assert abs(per_image - losses.mean()) > 1e-4


@pytest.mark.parametrize(
    "metric, columns",
    [
        (COCOMetric(), ["COCOMetric", "AP50"]),
        (COCOMetric(iou_thresholds=[0.5]), ["COCOMetric"]),  # AP 0.50 *is* the main key
    ],
)
def test_coco_metric_columns_match_a_direct_computation(data, tmp_path, metric, columns):
    learn = make_learner(data, tmp_path, metrics=[metric])
    assert [m.name for m in learn.metrics] == columns
    learn.fit(1, lr=1e-3)  # fills the table: epoch, train_loss, valid_loss, columns..., time
    assert list(learn.recorder.metric_names[3:-1]) == columns
    _, _, expected = direct_validation(learn.model, learn.dls.valid)
    keys = metric.keys
    wanted = [keys[0]] + (["AP (IoU=0.50) area=all"] if "AP50" in columns else [])
    assert list(learn.recorder.values[-1][2:]) == pytest.approx([expected[k] for k in wanted])


def test_fastai_metrics_custom_columns_share_one_accumulation(data, tmp_path):
    metric = COCOMetric()
    cols = fastai_metrics(metric, {"AP": "AP (IoU=0.50:0.95) area=all",
                                   "AR100": "AR (IoU=0.50:0.95) area=all maxDets=100"})
    learn = make_learner(data, tmp_path, metrics=cols)
    loss, ap, ar = learn.validate()
    _, _, expected = direct_validation(learn.model, learn.dls.valid)
    assert [ap, ar] == pytest.approx([expected["AP (IoU=0.50:0.95) area=all"],
                                      expected["AR (IoU=0.50:0.95) area=all maxDets=100"]])
    assert metric.num_images == 0  # finalized once (finalize resets), not left half-full


class Snapshots(Callback):
    """The model's state_dict at the end of each fit (fine_tune runs two)."""

    def before_fit(self):
        if not hasattr(self, "states"):
            self.states = [clone_state(self.learn.model)]

    def after_fit(self):
        self.states.append(clone_state(self.learn.model))


def clone_state(model):
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def changed(before, after, prefix, only=None):
    keys = [k for k in before if k.startswith(prefix) and (only is None or only(k))]
    assert keys, prefix
    return sorted(k for k in keys if not torch.equal(before[k], after[k]))


def is_bn(key):
    return key.rsplit(".", 1)[-1] in ("running_mean", "running_var", "num_batches_tracked") or (
        ".bn" in key
    )


@pytest.mark.parametrize("train_bn", [False, True])
def test_fine_tune_freezes_the_backbone_in_the_frozen_epoch(data, tmp_path, train_bn):
    snaps = Snapshots()
    learn = make_learner(data, tmp_path, cbs=[snaps], train_bn=train_bn)
    learn.fine_tune(1, 1e-2, freeze_epochs=1)
    start, frozen, unfrozen = snaps.states
    # heads learn in the frozen epoch
    assert changed(start, frozen, "model.class_net.") and changed(start, frozen, "model.box_net.")
    for part in ("model.backbone.", "model.fpn."):
        convs = changed(start, frozen, part, only=lambda k: not is_bn(k))
        bns = changed(start, frozen, part, only=is_bn)
        assert convs == [], f"{part} weights moved while frozen: {convs[:3]}"
        if train_bn:  # fastai's default: BatchNorm stays trainable inside frozen groups
            assert bns, part
        else:  # ours: a frozen part keeps its BatchNorm weights and running statistics too
            assert bns == [], f"{part} BatchNorm moved while frozen: {bns[:3]}"
    # and the backbone trains after unfreezing
    assert changed(frozen, unfrozen, "model.backbone.", only=lambda k: not is_bn(k))


def test_fit_one_cycle_lr_find_save_and_load(data, tmp_path):
    learn = make_learner(data, tmp_path)
    learn.fit_one_cycle(1, 1e-3)
    assert len(learn.recorder.values) == 1 and np.isfinite(learn.recorder.values[0][0])
    suggestion = learn.lr_find(num_it=10, show_plot=False)
    assert 1e-7 < suggestion.valley < 10
    saved = learn.save("ckpt")
    assert saved.is_file() and saved.parent == tmp_path / "models"
    before = clone_state(learn.model)
    with torch.no_grad():
        for p in learn.model.parameters():
            p.add_(1.0)
    learn.load("ckpt")
    after = clone_state(learn.model)
    assert all(torch.equal(before[k], after[k]) for k in before)


def test_show_results_draws_truth_beside_prediction(data, tmp_path):
    learn = make_learner(data, tmp_path)
    out = tmp_path / "results.png"
    learn.show_results(max_n=2, detection_threshold=0.0, save_path=out)
    from PIL import Image

    with Image.open(out) as img:
        assert img.format == "PNG" and img.width > 100 and img.height > 100


def test_dls_must_be_train_and_valid(data, tmp_path):
    learn = make_learner(data, tmp_path)
    with pytest.raises(ValueError, match=r"\[train_dl, valid_dl\].*got 1"):
        learner([learn.dls.train], learn.model)


@pytest.mark.parametrize("device", ["cpu", pytest.param("cuda", marks=pytest.mark.skipif(
    not torch.cuda.is_available(), reason="no GPU"))])
def test_to_fp16_trains_on_the_models_device(data, tmp_path, device):
    learn = make_learner(data, tmp_path, metrics=[COCOMetric()], device=device)
    learn.to_fp16(init_scale=2.0**8)  # 2**16 overflows both steps of this tiny fit: skipped
    before = [p.detach().clone() for p in learn.model.parameters()]
    learn.fit(1, lr=1e-3)
    assert np.isfinite(learn.recorder.values[-1][0])
    assert next(learn.model.parameters()).device.type == device
    assert learn.scaler is None  # fastai drops it after the fit; the steps ran through it
    assert any(not torch.equal(a, b.to(a.device)) for a, b in zip(learn.model.parameters(), before))


def test_missing_fastai_says_which_extra_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "fastai.callback", None)
    for name in ("efficientdet_adapter.efficientdet.fastai", "efficientdet_adapter.engines.fastai",
                 "efficientdet_adapter.engines.fastai.learn"):
        monkeypatch.delitem(sys.modules, name, raising=False)
    with pytest.raises(ImportError, match=r"pip install 'efficientdet_adapter\[fastai\]'"):
        importlib.import_module("efficientdet_adapter.efficientdet.fastai")


def test_learner_device_is_an_explicit_choice(data, tmp_path):
    import torch

    learn = make_learner(data, tmp_path, device="cpu")
    assert learn.dls.device == torch.device("cpu")
    learn.fit(1, 1e-4)
    assert next(learn.model.parameters()).device == torch.device("cpu")
    from fastai.torch_core import default_device

    assert make_learner(data, tmp_path, device=None).dls.device == default_device()
