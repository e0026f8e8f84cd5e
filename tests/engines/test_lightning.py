"""efficientdet.lightning.ModelAdapter: fit, validate, test and predict with pl.Trainer (and DDP)."""

from __future__ import annotations

import csv
import importlib
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from efficientdet_adapter import Prediction, tfms
from efficientdet_adapter.records.dataset import Dataset
from efficientdet_adapter.app.demo import demo_class_map, demo_records
from efficientdet_adapter.efficientdet import model as create_model
from efficientdet_adapter.efficientdet import normalize_tfm
from efficientdet_adapter.loop.dataloaders import infer_dl, train_dl, valid_dl
from efficientdet_adapter.loop.steps import validation_step
from efficientdet_adapter.metrics import COCOMetric
from lightning_for_tests import lightning_or_skip, model_adapter

pl = lightning_or_skip()
ModelAdapter = model_adapter()

SIZE = 128
REPO_ROOT = Path(__file__).resolve().parents[2]
AP = "COCOMetric/AP (IoU=0.50:0.95) area=all"
AP50 = "COCOMetric/AP (IoU=0.50) area=all"


class AdamWAdapter(ModelAdapter):
    def configure_optimizers(self):
        return torch.optim.AdamW(self.parameters(), lr=1e-3)


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    """8 training images (batches of 3, 3, 2) and 5 validation images (batches of 2, 2, 1)."""
    splits = demo_records(tmp_path_factory.mktemp("demo"), num_images=13, splits=(8 / 13, 5 / 13, 0))
    assert [len(splits["train"]), len(splits["valid"])] == [8, 5]
    return splits


def build(data, seed=0):
    torch.manual_seed(seed)
    model = create_model(model_name="tf_efficientdet_lite0", num_classes=len(demo_class_map()),
                         img_size=SIZE)
    tfm = tfms.A.Adapter([*tfms.A.resize_and_pad(SIZE), normalize_tfm(model)])
    train_ds, valid_ds = Dataset(data["train"], tfm), Dataset(data["valid"], tfm)
    return model, train_ds, valid_ds


def direct_validation(model, dl):
    """(per-image mean loss, COCOMetric dict) computed by engines.steps, no engine."""
    metric, total, n = COCOMetric(), 0.0, 0
    for batch in dl:
        losses, preds = validation_step(model, batch)
        metric.accumulate(preds)
        total += float(losses["loss"]) * len(preds)
        n += len(preds)
    return total / n, metric.finalize()


def warm_start(model, ds, steps=12, lr=1e-2):
    """Fit ``model`` to ``ds`` for a few steps, then re-estimate its BatchNorm statistics on ``ds``
    (effdet's momentum of 0.01 would leave them near their initial values): a model whose
    predictions on ``ds`` are good but not perfect, so that metrics over subsets of it differ."""
    from efficientdet_adapter.loop.steps import loss_step

    opt = torch.optim.AdamW(model.parameters(), lr=lr)
    model.train()
    done = 0
    while done < steps:
        for batch in train_dl(ds, batch_size=4, shuffle=True):
            loss = loss_step(model, batch)["loss"]
            opt.zero_grad()
            loss.backward()
            opt.step()
            done += 1
    norms = [m for m in model.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    momenta = [m.momentum for m in norms]
    for m in norms:
        m.reset_running_stats()
        m.momentum = None  # a plain average over the pass below
    with torch.no_grad():
        for batch in train_dl(ds, batch_size=len(ds)):
            loss_step(model, batch)
    for m, momentum in zip(norms, momenta):
        m.momentum = momentum
    return model


def trainer(tmp_path, **kwargs):
    kwargs.setdefault("logger", pl.loggers.CSVLogger(tmp_path, name="logs"))
    return pl.Trainer(accelerator="cpu", devices=1, enable_checkpointing=False,
                      enable_progress_bar=False, enable_model_summary=False,
                      num_sanity_val_steps=0, log_every_n_steps=1, **kwargs)


def read_csv(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def test_fit_validate_test_predict(data, tmp_path):
    model, train_ds, valid_ds = build(data)
    light = AdamWAdapter(model, metrics=[COCOMetric()])
    tr = trainer(tmp_path, max_epochs=1)
    tr.fit(light, train_dl(train_ds, batch_size=3), valid_dl(valid_ds, batch_size=2))

    rows = read_csv(Path(tr.logger.log_dir) / "metrics.csv")
    columns = set(rows[0])
    for name in ("train_loss_step", "train_loss_epoch", "train_class_loss_step",
                 "train_box_loss_step", "val_loss", "val_class_loss", "val_box_loss", AP, AP50):
        assert name in columns, name
    # train_loss_epoch is the per-image mean of the step losses (batches of 3, 3 and 2 images)
    steps = [float(r["train_loss_step"]) for r in rows if r["train_loss_step"]]
    epoch = [float(r["train_loss_epoch"]) for r in rows if r["train_loss_epoch"]]
    assert len(steps) == 3 and len(epoch) == 1
    assert epoch[0] == pytest.approx(np.dot(steps, [3, 3, 2]) / 8, rel=1e-5)
    assert abs(epoch[0] - np.mean(steps)) > 1e-5  # the weighting is visible

    vdl = valid_dl(valid_ds, batch_size=2)
    val_loss, expected = direct_validation(light.model, vdl)
    [val] = tr.validate(light, vdl, verbose=False)
    assert val["val_loss"] == pytest.approx(val_loss, rel=1e-5)
    assert val[AP] == pytest.approx(expected["AP (IoU=0.50:0.95) area=all"], abs=1e-6)
    assert val[AP50] == pytest.approx(expected["AP (IoU=0.50) area=all"], abs=1e-6)
    n_keys = len([k for k in val if k.startswith("COCOMetric/")])
    assert n_keys == len(expected)  # 12 summary keys + one AP per class

    [test] = tr.test(light, vdl, verbose=False)
    assert test["test_loss"] == pytest.approx(val_loss, rel=1e-5)
    assert test[AP] == pytest.approx(val[AP], abs=1e-6)

    batches = tr.predict(light, infer_dl(valid_ds, batch_size=2))
    preds = [p for batch in batches for p in batch]
    assert [type(p) for p in preds] == [Prediction] * 5
    assert [p.record_id for p in preds] == [r.record_id for r in data["valid"]]
    boxes = np.concatenate([p.boxes for p in preds])
    assert len(boxes) > 0 and boxes.min() >= 0 and boxes.max() <= SIZE


def test_model_without_configure_optimizers_is_refused(data, tmp_path):
    model, train_ds, _ = build(data)
    with pytest.raises(Exception, match="configure_optimizers"):
        trainer(tmp_path, max_steps=1, logger=False).fit(
            ModelAdapter(model), train_dl(train_ds, batch_size=4)
        )


def _bn_running_means(model) -> torch.Tensor:
    return torch.cat([m.running_mean.detach().clone() for m in model.modules()
                      if isinstance(m, torch.nn.BatchNorm2d)])


def test_lightning_after_fastai_trains_in_train_mode(data, tmp_path):
    """IceVision's getting-started fits with fastai, then with Lightning: fastai leaves the model
    in eval mode, and Lightning must still train BatchNorm (running statistics move)."""
    from efficientdet_adapter.efficientdet.fastai import learner

    model, train_ds, valid_ds = build(data)
    learn = learner(dls=[train_dl(train_ds, batch_size=4), valid_dl(valid_ds, batch_size=4)],
                    model=model, path=tmp_path, device="cpu")
    learn.fit(1, 1e-4)
    assert not model.training  # fastai ends its fit in eval mode (the validation pass)

    modes: list[bool] = []

    class Probe(AdamWAdapter):
        def training_step(self, batch, batch_idx):
            modes.append(self.model.training)
            return super().training_step(batch, batch_idx)

    before = _bn_running_means(model)
    trainer(tmp_path, max_epochs=1, logger=False).fit(
        Probe(model), train_dl(train_ds, batch_size=4), valid_dl(valid_ds, batch_size=4))
    assert modes == [True, True]
    moved = (_bn_running_means(model) - before).abs()
    assert float(moved.max()) > 1e-4  # BatchNorm statistics were updated by the Lightning fit


@pytest.mark.skipif(not torch.cuda.is_available(), reason="precision='16-mixed' needs a GPU")
def test_mixed_precision_on_gpu(data, tmp_path):
    model, train_ds, valid_ds = build(data)
    tr = pl.Trainer(accelerator="gpu", devices=1, precision="16-mixed", max_epochs=1,
                    logger=False, enable_checkpointing=False, enable_progress_bar=False)
    light = AdamWAdapter(model, metrics=[COCOMetric()])
    tr.fit(light, train_dl(train_ds, batch_size=4), valid_dl(valid_ds, batch_size=2))
    assert np.isfinite(float(tr.callback_metrics["val_loss"]))
    assert AP in tr.callback_metrics


DDP_SCRIPT = """
import json, sys
import torch
sys.path.insert(0, {repo!r})
sys.path.insert(0, {tests!r})
from test_lightning import AdamWAdapter, build, valid_dl, train_dl, COCOMetric, pl
from efficientdet_adapter.app.demo import demo_records

data = demo_records({demo!r}, num_images=13, splits=(8 / 13, 5 / 13, 0))
model, train_ds, valid_ds = build(data)
model.load_state_dict(torch.load({out!r} + "/start.pt"))
light = AdamWAdapter(model, metrics=[COCOMetric()])
trainer = pl.Trainer(accelerator="cpu", devices=2, strategy="ddp", max_epochs=1, logger=False,
                     enable_checkpointing=False, enable_progress_bar=False,
                     enable_model_summary=False, num_sanity_val_steps=0)
trainer.fit(light, train_dl(train_ds, batch_size=2), valid_dl(valid_ds, batch_size=2))
[val] = trainer.validate(light, valid_dl(valid_ds, batch_size=2), verbose=False)
rank = trainer.global_rank
if rank == 0:
    torch.save(light.model.state_dict(), {out!r} + "/model.pt")
with open({out!r} + f"/rank{{rank}}.json", "w") as f:
    json.dump({{"world_size": trainer.world_size, **{{k: float(v) for k, v in val.items()}}}}, f)
"""


@pytest.mark.slow
def test_ddp_two_cpu_processes_report_the_whole_validation_set(data, tmp_path):
    """A real 2-process DDP run (gloo, CPU): fit, then validate; both ranks report the metric of
    all 5 validation images, equal to a 1-process evaluation of the trained weights. The run
    starts from weights fitted to the validation images, so that the metric is far from 0: a
    from-scratch model's AP after two steps is 0 or 1e-5 by chance, and a metric of 0 agrees
    with any subset."""
    model, _, valid_ds = build(data)
    torch.save(warm_start(model, valid_ds).state_dict(), tmp_path / "start.pt")
    demo = tmp_path / "demo"
    script = tmp_path / "ddp_run.py"
    script.write_text(DDP_SCRIPT.format(repo=str(Path(__file__).parent),
                                        tests=str(Path(__file__).parents[1]), demo=str(demo),
                                        out=str(tmp_path)))
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO_ROOT)}
    proc = subprocess.run([sys.executable, str(script)], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=480)
    assert proc.returncode == 0, proc.stderr[-3000:]
    ranks = [json.loads((tmp_path / f"rank{r}.json").read_text()) for r in (0, 1)]
    assert [r["world_size"] for r in ranks] == [2, 2]

    model, _, valid_ds = build(data)
    model.load_state_dict(torch.load(tmp_path / "model.pt"))
    _, expected = direct_validation(model, valid_dl(valid_ds, batch_size=2))
    print({"ddp": [r[AP] for r in ranks], "1 process": expected["AP (IoU=0.50:0.95) area=all"]})
    assert 0.05 < expected["AP (IoU=0.50:0.95) area=all"] < 0.95  # a value subsets disagree on
    for r in ranks:
        assert r[AP] == pytest.approx(expected["AP (IoU=0.50:0.95) area=all"], abs=1e-6)
        assert r[AP50] == pytest.approx(expected["AP (IoU=0.50) area=all"], abs=1e-6)
        assert "val_loss" in r and np.isfinite(r["val_loss"])


def test_missing_lightning_says_which_extra_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "pytorch_lightning", None)
    monkeypatch.setitem(sys.modules, "lightning", None)
    for name in ("efficientdet_adapter.efficientdet.lightning",
                 "efficientdet_adapter.engines.lightning.adapter"):
        monkeypatch.delitem(sys.modules, name, raising=False)
    with pytest.raises(ImportError, match=r"pip install 'efficientdet_adapter\[lightning\]'"):
        importlib.import_module("efficientdet_adapter.efficientdet.lightning")
