"""IceVision's Lightning contract: the keys its users monitor and read, and the ``.ckpt`` that
``ModelCheckpoint`` writes, loaded back through IceVision's ``model_from_checkpoint``."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
import pytorch_lightning as pl
import torch

from efficientdet_adapter import tfms
from efficientdet_adapter.checkpoint import model_from_checkpoint
from efficientdet_adapter.records.dataset import Dataset
from efficientdet_adapter.app.demo import demo_class_map, demo_records
from efficientdet_adapter.efficientdet import model as create_model
from efficientdet_adapter.efficientdet import normalize_tfm
from efficientdet_adapter.loop.dataloaders import train_dl, valid_dl
from efficientdet_adapter.efficientdet.lightning import ModelAdapter
from efficientdet_adapter.inference.prediction import predict
from efficientdet_adapter.metrics import COCOMetric
from efficientdet_adapter.engines.lightning.callbacks import lightning_row
from efficientdet_adapter.loop.steps import use_channels_last

SIZE = 128
AP = "COCOMetric/AP (IoU=0.50:0.95) area=all"


class LightModel(ModelAdapter):
    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=1e-3)


class ReadsIceVisionKeys(pl.Callback):
    """A user callback written for IceVision: reads its keys from callback_metrics."""

    def __init__(self):
        self.seen: list[tuple[float, float]] = []
        self.at_validation_end: list[tuple[bool, float]] = []

    def on_train_epoch_end(self, trainer, pl_module):
        m = trainer.callback_metrics
        self.seen.append((float(m["valid/loss"]), float(m["COCOMetric"])))

    def on_validation_epoch_end(self, trainer, pl_module):  # runs before the module's own hook
        if trainer.state.fn == "fit":  # (a later tr.validate may log other keys)
            self.at_validation_end.append(
                (trainer.sanity_checking, float(trainer.callback_metrics["COCOMetric"])))


@pytest.fixture(scope="module")
def fitted(tmp_path_factory):
    root = tmp_path_factory.mktemp("light")
    splits = demo_records(root / "demo", num_images=10, splits=(0.6, 0.4, 0))
    torch.manual_seed(0)
    model = create_model(model_name="tf_efficientdet_lite0", num_classes=len(demo_class_map()),
                         img_size=SIZE, pretrained_backbone=False)
    tfm = tfms.A.Adapter([*tfms.A.resize_and_pad(SIZE), normalize_tfm(model)])
    train_ds, valid_ds = Dataset(splits["train"], tfm), Dataset(splits["valid"], tfm)
    light = LightModel(model, metrics=[COCOMetric()])
    ckpt = pl.callbacks.ModelCheckpoint(dirpath=root / "ckpt", monitor="valid/loss", mode="min",
                                        save_top_k=1)
    reader = ReadsIceVisionKeys()
    tr = pl.Trainer(accelerator="cpu", devices=1, max_epochs=1, enable_progress_bar=False,
                    enable_model_summary=False, num_sanity_val_steps=1, log_every_n_steps=1,
                    logger=pl.loggers.CSVLogger(root, name="logs"), callbacks=[ckpt, reader])
    tr.fit(light, train_dl(train_ds, batch_size=2), valid_dl(valid_ds, batch_size=2))
    return tr, light, ckpt, reader, valid_ds


def test_icevision_keys_are_logged_and_monitored(fitted):
    tr, light, ckpt, reader, valid_ds = fitted
    assert ckpt.best_model_path and Path(ckpt.best_model_path).is_file()  # monitor found
    assert len(reader.seen) == 1
    # the metrics are final when callbacks' on_validation_epoch_end runs, sanity check included
    assert [sanity for sanity, _ in reader.at_validation_end] == [True, False]
    assert reader.at_validation_end[1][1] == pytest.approx(reader.seen[0][1])
    with open(Path(tr.logger.log_dir) / "metrics.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    columns = set(rows[0])
    for name in ("train/loss", "train/class_loss", "train/box_loss", "valid/loss",
                 "valid/class_loss", "valid/box_loss", "COCOMetric", AP,
                 "train_loss_step", "val_loss"):  # IceVision 0.12's keys and master's
        assert name in columns, name
    steps = [float(r["train/loss"]) for r in rows if r["train/loss"]]
    ours = [float(r["train_loss_step"]) for r in rows if r["train_loss_step"]]
    assert steps == pytest.approx(ours) and len(steps) == 3

    [val] = tr.validate(light, valid_dl(valid_ds, batch_size=2), verbose=False)
    assert val["COCOMetric"] == pytest.approx(val[AP], abs=1e-7)
    assert val["valid/loss"] == pytest.approx(val["val_loss"], rel=1e-6)
    assert val["valid/class_loss"] + val["valid/box_loss"] * 50 == pytest.approx(
        val["valid/loss"], rel=1e-4)  # effdet: loss = class_loss + 50 * box_loss
    [test] = tr.test(light, valid_dl(valid_ds, batch_size=2), verbose=False)
    assert test["test/loss"] == pytest.approx(val["val_loss"], rel=1e-6)
    assert test["COCOMetric"] == pytest.approx(val[AP], abs=1e-7)


def test_run_rows_leave_the_icevision_names_out():
    metrics = {"train/loss": 1.0, "valid/loss": 2.0, "COCOMetric": 0.5, "val_loss": 2.0,
               "train_loss_epoch": 1.5, "train_loss_step": 1.2, AP: 0.5}
    assert lightning_row(metrics, aliases=["COCOMetric"]) == {
        "valid_loss": 2.0, "train_loss": 1.5, "AP (IoU=0.50:0.95) area=all": 0.5}


def test_prog_bar_keys_are_configurable(fitted):
    tr, light, ckpt, reader, valid_ds = fitted
    light.metrics_keys_to_log_to_prog_bar = [("AP (IoU=0.50) area=all", "AP50")]
    try:
        [val] = tr.validate(light, valid_dl(valid_ds, batch_size=2), verbose=False)
    finally:
        light.metrics_keys_to_log_to_prog_bar = [("AP (IoU=0.50:0.95) area=all", "COCOMetric")]
    assert val["AP50"] == pytest.approx(val["COCOMetric/AP (IoU=0.50) area=all"])
    assert "COCOMetric" not in val


@pytest.mark.parametrize("strict", [False, True])
def test_the_ckpt_loads_through_model_from_checkpoint_and_predicts_the_same(fitted, strict):
    tr, light, ckpt, reader, valid_ds = fitted
    raw = torch.load(ckpt.best_model_path, weights_only=True)
    assert any(k.startswith("model.model.backbone.") for k in raw["state_dict"])
    loaded = model_from_checkpoint(
        ckpt.best_model_path, model_name="ross.efficientdet", backbone_name="tf_lite0",
        img_size=SIZE, classes=demo_class_map().get_classes(),
        revise_keys=[(r"^model\.", "")], map_location="cpu", strict=strict)
    assert loaded["class_map"] == demo_class_map() and loaded["img_size"] == SIZE
    assert "optimizer_states" in loaded["checkpoint"]
    light.model.eval()
    # the fit trained in channels_last (the CPU's default); compare in the loaded model's layout
    use_channels_last(light.model, False)
    theirs = predict(light.model, valid_ds, detection_threshold=0.0)
    ours = predict(loaded["model"], valid_ds, detection_threshold=0.0)
    assert len(ours) == len(theirs) == 4
    for a, b in zip(ours, theirs):
        assert len(a.boxes) == len(b.boxes) > 0
        np.testing.assert_allclose(a.boxes, b.boxes, atol=1e-4)
        np.testing.assert_array_equal(a.labels, b.labels)


def test_convert_raw_predictions_as_custom_adapters_call_it(fitted):
    """IceVision users' own validation_step: raw effdet output -> predictions for the metric."""
    from efficientdet_adapter.loop.steps import validation_step
    from efficientdet_adapter.models.ross import efficientdet as model_type

    tr, light, ckpt, reader, valid_ds = fitted
    batch = next(iter(valid_dl(valid_ds, batch_size=2)))
    (xb, yb), records = batch
    model = light.model.eval()
    with torch.no_grad():
        raw_preds = model(xb, yb)
    preds = model_type.convert_raw_predictions(batch=(xb, yb), raw_preds=raw_preds["detections"],
                                               records=records, detection_threshold=0.0,
                                               keep_images=True)
    assert model_type.loss_fn(raw_preds, yb) is raw_preds["loss"]
    _, expected = validation_step(model, batch)
    assert len(preds) == len(expected) == 2
    for got, want in zip(preds, expected):
        np.testing.assert_allclose(got.boxes, want.boxes, atol=1e-5)
        assert got.ground_truth.record_id == want.ground_truth.record_id
        assert got.img.shape == (SIZE, SIZE, 3) and got.img.dtype == np.uint8
