"""plot_top_losses: per-image losses, sorted, drawn; IceVision's names and return values."""

from __future__ import annotations

import pytest
import torch

from efficientdet_adapter import tfms
from efficientdet_adapter.records.dataset import Dataset
from efficientdet_adapter.app.demo import demo_class_map, demo_records
from efficientdet_adapter.efficientdet import interp, normalize_tfm
from efficientdet_adapter.efficientdet import model as build_model
from efficientdet_adapter.loop.dataloaders import build_valid_batch
from efficientdet_adapter.loop.steps import validation_step
from efficientdet_adapter.models.interpretation import get_samples_losses


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    records = demo_records(tmp_path_factory.mktemp("d"), num_images=5, splits=(1.0, 0, 0),
                           min_size=100, max_size=160)["train"]
    torch.manual_seed(0)
    model = build_model(model_name="tf_efficientdet_lite0", num_classes=len(demo_class_map()),
                        img_size=128).eval()
    ds = Dataset(records, tfms.A.Adapter([*tfms.A.resize_and_pad(128), normalize_tfm(model)]))
    return model, ds


def test_plot_top_losses_sorts_worst_first_and_returns_icevision_triple(setup, tmp_path):
    model, ds = setup
    samples, preds, stats = interp.plot_top_losses(model, ds, sort_by="class_loss", n_samples=2,
                                                   save_path=tmp_path / "top.png")
    assert len(samples) == len(preds) == 5
    losses = [s.losses["class_loss"] for s in samples]
    assert losses == sorted(losses, reverse=True)
    assert set(stats) == {"effdet_total_loss", "class_loss", "box_loss", "loss_total"}
    assert stats["class_loss"]["max"] == pytest.approx(losses[0])
    assert stats["class_loss"]["min"] == pytest.approx(losses[-1])
    assert (tmp_path / "top.png").stat().st_size > 5000
    # each loss is the image's own, as a one-image validation step computes it
    i = [r.record_id for r in ds.records].index(samples[0].record_id)
    direct, _ = validation_step(model, build_valid_batch([ds[i]]))
    assert samples[0].losses["class_loss"] == pytest.approx(float(direct["class_loss"]), rel=1e-6)
    assert samples[0].losses["loss_total"] == pytest.approx(
        samples[0].losses["class_loss"] + samples[0].losses["box_loss"])
    rows = get_samples_losses(samples)
    assert rows[0]["filepath"] == samples[0].filepath and "box_loss" in rows[0]


def test_weighted_sort_and_bad_sort_by(setup):
    model, ds = setup
    by = {"method": "weighted", "weights": {"class_loss": 0.0, "box_loss": 1.0}}
    samples, _, _ = interp.plot_top_losses(model, ds, sort_by=by, n_samples=1, show=False)
    weighted = [s.losses["loss_weighted"] for s in samples]
    assert weighted == sorted(weighted, reverse=True)
    assert weighted == pytest.approx([s.losses["box_loss"] for s in samples])
    with pytest.raises(ValueError, match="sort by one of"):
        interp.plot_top_losses(model, ds, sort_by="loss_classifier")
