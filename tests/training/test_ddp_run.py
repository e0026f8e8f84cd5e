"""``train --engine lightning --devices 2`` on the CPU: a real 2-process DDP run (gloo) whose
metrics.csv and best.pt agree with a 1-process validation of the same weights."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from efficientdet_adapter.app.demo import write_demo_dataset
from efficientdet_adapter.training.csvlog import read_metrics_csv
from lightning_for_tests import lightning_or_skip

REPO = Path(__file__).resolve().parents[2]
AP, AR = "AP (IoU=0.50:0.95) area=all", "AR (IoU=0.50:0.95) area=all maxDets=100"


@pytest.mark.slow
def test_two_process_ddp_run_keeps_the_metrics_and_best_checkpoint_of_one(tmp_path):
    lightning_or_skip()
    from efficientdet_adapter.checkpoint import load_model
    from efficientdet_adapter.records.dataset import Dataset
    from efficientdet_adapter.loop.dataloaders import valid_dl
    from efficientdet_adapter.loop.steps import validation_step
    from efficientdet_adapter.metrics import COCOMetric
    from efficientdet_adapter.app.runs import _tfms, load_splits

    data = write_demo_dataset(tmp_path / "shapes", num_images=12, seed=2)
    out = tmp_path / "ddp"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "EFFICIENTDET_ADAPTER_OFFLINE": "1",
           "PYTHONPATH": str(REPO)}
    proc = subprocess.run(
        [sys.executable, "-m", "efficientdet_adapter", "train", "--data", str(data), "--out",
         str(out), "--engine", "lightning", "--devices", "2", "--device", "cpu", "--epochs", "2",
         "--img-size", "128", "--batch-size", "2", "--threads", "1", "--aug", "none",
         "--pretrained-backbone", "none", "--progress", "lines"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=400)
    assert proc.returncode == 0, proc.stderr[-3000:]
    rows = read_metrics_csv(out / "metrics.csv")
    assert [r["epoch"] for r in rows] == [1, 2]  # rank 0 wrote, once per epoch
    assert sum(ln.startswith("epoch ") for ln in proc.stdout.splitlines()) == 2
    best = torch.load(out / "best.pt", weights_only=True)
    best_epoch = best["extra"]["epoch"]
    assert best_epoch == max(rows, key=lambda r: (r[AP], -r["epoch"]))["epoch"]

    model, _, _ = load_model(out / "best.pt")
    _, valid, _, _, _ = load_splits(data, seed=0)
    _, valid_tfm = _tfms(model, 128, "none")
    metric = COCOMetric()
    for batch in valid_dl(Dataset(valid, valid_tfm), batch_size=2, clip_to_image=True):
        metric.accumulate(validation_step(model, batch)[1])
    one = metric.finalize()
    row = rows[best_epoch - 1]
    assert one[AR] > 0  # a non-trivial value to agree on
    for key in (AP, AR, "AP (IoU=0.50) area=all"):
        assert row[key] == pytest.approx(one[key], abs=1e-6), key
