"""Runs with very few optimizer steps: a one-cycle schedule of 2 steps trains, with either engine
(Lightning used to end in ZeroDivisionError inside OneCycleLR)."""

from __future__ import annotations

import math

import pytest

from efficientdet_adapter.app.demo import write_demo_dataset
from efficientdet_adapter.app.runs import TrainOptions, load_splits, train_model
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
    model = train_model(train, valid, class_map, opts, out=tmp_path)
    assert not model.training
    rows = read_metrics_csv(tmp_path / "metrics.csv")
    assert [(r["epoch"], r["step"]) for r in rows] == [(1, 2)]  # 8 images / 4 = 2 steps
    assert math.isfinite(rows[0]["train_loss"])


@pytest.mark.slow
def test_two_steps_per_process_under_ddp(tmp_path):
    """``--devices 2`` (CPU DDP, gloo): 16 train images, batch 4, 1 epoch = 2 optimizer steps per
    process, the schedule that ended in ZeroDivisionError."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    pytest.importorskip("pytorch_lightning")
    data = write_demo_dataset(tmp_path / "shapes", num_images=22, seed=2)
    assert len(load_splits(data)[0]) == 16
    env = {**os.environ, "OMP_NUM_THREADS": "1", "EFFICIENTDET_ADAPTER_OFFLINE": "1",
           "PYTHONPATH": str(Path(__file__).resolve().parents[1]),
           "PYTHONWARNINGS": "ignore::FutureWarning"}
    proc = subprocess.run(
        [sys.executable, "-m", "efficientdet_adapter", "train", "--data", str(data), "--out",
         str(tmp_path / "ddp"), "--engine", "lightning", "--devices", "2", "--device", "cpu",
         "--epochs", "1", "--img-size", "128", "--batch-size", "4", "--threads", "1",
         "--pretrained-backbone", "none", "--progress", "lines"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=400)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "ZeroDivisionError" not in proc.stderr
    rows = read_metrics_csv(tmp_path / "ddp" / "metrics.csv")
    assert [(r["epoch"], r["step"]) for r in rows] == [(1, 2)]
