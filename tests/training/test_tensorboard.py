"""TensorBoard logs of a run (both engines, one implementation in RunTracker), and output that
stays free of carriage-return progress frames when it is not a terminal."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from efficientdet_adapter.app.demo import write_demo_dataset
from efficientdet_adapter.training.csvlog import read_metrics_csv
from efficientdet_adapter.training.tensorboard_log import TensorBoardLog, tensorboard_tag
from lightning_for_tests import lightning_or_skip

REPO = Path(__file__).resolve().parents[2]
COCO_KEYS = [
    "AP (IoU=0.50:0.95) area=all", "AP (IoU=0.50) area=all", "AP (IoU=0.75) area=all",
    "AP (IoU=0.50:0.95) area=small", "AP (IoU=0.50:0.95) area=medium",
    "AP (IoU=0.50:0.95) area=large", "AR (IoU=0.50:0.95) area=all maxDets=1",
    "AR (IoU=0.50:0.95) area=all maxDets=10", "AR (IoU=0.50:0.95) area=all maxDets=100",
    "AR (IoU=0.50:0.95) area=small maxDets=100", "AR (IoU=0.50:0.95) area=medium maxDets=100",
    "AR (IoU=0.50:0.95) area=large maxDets=100",
]


def scalars(log_dir: Path) -> dict[str, list[tuple[int, float]]]:
    """``{tag: [(step, value), ...]}`` as TensorBoard reads them (purged events left out)."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    acc = EventAccumulator(str(log_dir), size_guidance={"scalars": 0})
    acc.Reload()
    return {tag: [(e.step, e.value) for e in acc.Scalars(tag)] for tag in acc.Tags()["scalars"]}


@pytest.mark.parametrize("key,tag", [
    ("train_loss", "loss/train_loss"),
    ("valid_box_loss", "loss/valid_box_loss"),
    ("AP (IoU=0.50:0.95) area=all", "COCO/AP (IoU=0.50:0.95) area=all"),
    ("AR (IoU=0.50:0.95) area=small maxDets=100", "COCO/AR (IoU=0.50:0.95) area=small maxDets=100"),
    ("AP (IoU=0.50:0.95) area=all class=red car", "AP per class/red car"),
    ("lr", "run/lr"),
    ("seconds", "run/seconds"),
])
def test_tensorboard_tags_keep_the_metrics_csv_names(key, tag):
    assert tensorboard_tag(key) == tag


def test_tensorboard_log_of_a_resumed_run_replaces_the_interrupted_steps(tmp_path):
    pytest.importorskip("tensorboard")
    first = TensorBoardLog(tmp_path, purge_step=0)
    for step in range(1, 6):  # killed after step 5; its last.pt holds step 3
        first.scalar("loss/train_loss_step", 10.0 + step, step)
    first.row({"epoch": 1, "train_loss": 1.5, "AP (IoU=0.50:0.95) area=all": float("nan"),
               "lr": None}, 3)
    first.close()
    resumed = TensorBoardLog(tmp_path, purge_step=3 + 1)  # what RunTracker passes
    for step in range(4, 7):
        resumed.scalar("loss/train_loss_step", 20.0 + step, step)
    resumed.close()
    got = scalars(tmp_path)
    assert got["loss/train_loss_step"] == [(1, 11.0), (2, 12.0), (3, 13.0), (4, 24.0), (5, 25.0),
                                           (6, 26.0)]
    assert got["loss/train_loss"] == [(3, 1.5)] and got["run/epoch"] == [(3, 1.0)]
    assert "COCO/AP (IoU=0.50:0.95) area=all" not in got and "run/lr" not in got  # NaN, None


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    return write_demo_dataset(tmp_path_factory.mktemp("tb") / "shapes", num_images=12, seed=2)


@pytest.mark.slow
@pytest.mark.parametrize("engine", ["fastai", "lightning"])
def test_train_logs_tensorboard_scalars_and_prints_no_carriage_returns(engine, data, tmp_path):
    pytest.importorskip("tensorboard")
    pytest.importorskip("fastai") if engine == "fastai" else lightning_or_skip()
    out = tmp_path / "run"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "EFFICIENTDET_ADAPTER_OFFLINE": "1",
           "PYTHONPATH": str(REPO)}
    # --progress left at auto: stdout is a pipe here, as in CI logs
    proc = subprocess.run(
        [sys.executable, "-m", "efficientdet_adapter", "train", "--data", str(data), "--out",
         str(out), "--engine", engine, "--epochs", "2", "--img-size", "128", "--batch-size", "4",
         "--threads", "1", "--aug", "none", "--pretrained-backbone", "none"],
        cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=300)
    stdout, stderr = proc.stdout.decode(), proc.stderr.decode()
    assert proc.returncode == 0, stderr[-3000:]
    assert b"\r" not in proc.stdout and b"\r" not in proc.stderr, (stdout + stderr)[-2000:]
    lines = [ln for ln in stdout.splitlines() if ln.startswith("epoch ")]
    assert [ln.split()[1] for ln in lines] == ["1/2", "2/2"]

    rows = read_metrics_csv(out / "metrics.csv")
    got = scalars(out / "tensorboard")
    steps = rows[-1]["step"]
    assert [s for s, _ in got["loss/train_loss_step"]] == list(range(1, steps + 1))
    expected = {"loss/train_loss", "loss/valid_loss", "loss/train_class_loss",
                "loss/valid_box_loss", "run/lr", "run/seconds", "run/epoch",
                "AP per class/circle", *(f"COCO/{k}" for k in COCO_KEYS)}
    assert expected <= set(got), sorted(expected - set(got))
    for tag, key in (("loss/train_loss", "train_loss"), ("run/lr", "lr"),
                     ("COCO/AR (IoU=0.50:0.95) area=all maxDets=100",
                      "AR (IoU=0.50:0.95) area=all maxDets=100")):
        assert [s for s, _ in got[tag]] == [r["step"] for r in rows], tag  # an epoch's last step
        assert [v for _, v in got[tag]] == pytest.approx([r[key] for r in rows], rel=1e-5), tag
