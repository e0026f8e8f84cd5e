"""Runs with very few optimizer steps: a one-cycle schedule of 2 steps trains, with either engine
(Lightning used to end in ZeroDivisionError inside OneCycleLR)."""

from __future__ import annotations

import math

import pytest

from efficientdet_adapter.demo import write_demo_dataset
from efficientdet_adapter.runs import History, TrainOptions, load_splits, train_model
from efficientdet_adapter.training.csvlog import read_metrics_csv


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    data = write_demo_dataset(tmp_path_factory.mktemp("tiny") / "shapes", num_images=16, seed=1)
    train, valid, _, class_map, _ = load_splits(data)
    assert len(train) >= 8
    return train[:8], valid[:2], class_map


@pytest.mark.slow
@pytest.mark.parametrize("engine", ["fastai", "lightning"])
def test_two_optimizer_steps_train_with_either_engine(engine, tiny, tmp_path):
    pytest.importorskip("fastai" if engine == "fastai" else "pytorch_lightning")
    train, valid, class_map = tiny
    opts = TrainOptions(img_size=128, epochs=1, batch_size=4, engine=engine,
                        pretrained_backbone="none", progress="lines", device="cpu",
                        precision="32")
    model = train_model(train, valid, class_map, opts, History(tmp_path / "metrics.json"),
                        out=tmp_path)
    assert not model.training
    rows = read_metrics_csv(tmp_path / "metrics.csv")
    assert [(r["epoch"], r["step"]) for r in rows] == [(1, 2)]  # 8 images / 4 = 2 steps
    assert math.isfinite(rows[0]["train_loss"])
