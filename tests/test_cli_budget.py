"""``train --time`` ends on time with its learning rate annealed: real runs of both engines (and a
resumed one) whose steps the test-only hook makes a steady length. Every timing checked here is
one the run logged (``elapsed_s`` in ``metrics.csv``), never a clock of the test's own."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from efficientdet_adapter.app.demo import write_demo_dataset
from efficientdet_adapter.engines.core import SIGNAL_AT_STEP_ENV, STEP_SECONDS_ENV
from efficientdet_adapter.training.budget_clock import one_cycle
from efficientdet_adapter.training.csvlog import read_metrics_csv

REPO = Path(__file__).resolve().parents[1]
BUDGET = 30  # seconds: an epoch of 7 half-second steps and its validation, ~15% of it
LR = 5e-3
TINY = ["--img-size", "128", "--batch-size", "4", "--threads", "1", "--progress", "lines",
        "--lr", str(LR)]


def env(**extra: str) -> dict[str, str]:
    return {**os.environ, "OMP_NUM_THREADS": "1", "EFFICIENTDET_ADAPTER_OFFLINE": "1",
            STEP_SECONDS_ENV: "0.5", **extra,
            "PYTHONPATH": str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", "")}


def train(*args: str, **extra: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "efficientdet_adapter", "train", *args],
                          env=env(**extra), capture_output=True, text=True, timeout=600,
                          preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    return write_demo_dataset(tmp_path_factory.mktemp("data") / "shapes", num_images=40, seed=1)


def check_ended_on_time(out: Path) -> list[dict]:
    rows = read_metrics_csv(out / "metrics.csv")
    assert [r["epoch"] for r in rows] == list(range(1, len(rows) + 1))
    used = rows[-1]["elapsed_s"]  # the budget used when the last epoch ended
    assert abs(used - BUDGET) <= 0.05 * BUDGET, [r["elapsed_s"] for r in rows]
    assert all(a["elapsed_s"] < b["elapsed_s"] for a, b in zip(rows, rows[1:]))
    # the learning rate reached the schedule's final value at the last step
    assert rows[-1]["lr"] == pytest.approx(one_cycle(1.0, LR)[0], rel=1e-4)
    assert rows[-1]["lr"] == pytest.approx(LR / 1e5, rel=1e-4)
    clock = torch.load(out / "last.pt", weights_only=True)["extra"]["time_budget"]["clock"]
    assert clock["total_steps"] == rows[-1]["step"] and clock["budget_s"] == BUDGET
    assert clock["spent_s"] >= rows[-1]["elapsed_s"]
    final = torch.load(out / "model.pt", weights_only=True)["extra"]["metrics"]
    assert final["epochs"] == len(rows) and final["time_budget_s"] == BUDGET
    return rows


@pytest.mark.slow
def test_fastai_run_ends_within_5_percent_of_its_budget_annealed(data, tmp_path):
    out = tmp_path / "fastai"
    proc = train("--data", str(data), "--out", str(out), "--time", str(BUDGET), *TINY)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert f"--time {BUDGET} s: a step takes ~" in proc.stdout
    rows = check_ended_on_time(out)
    # the probe timed steps without the hook's sleep: the first plan was long, the clock
    # planned again from the first epoch's measured time
    assert "--time: planned again at epoch 2 from the last epoch's time: " in proc.stdout
    assert len(rows) >= 3


@pytest.mark.slow
def test_lightning_run_resumed_ends_within_5_percent_of_its_budget_annealed(data, tmp_path):
    out = tmp_path / "light"
    # 7 steps an epoch; a Ctrl-C right after step 10, in epoch 2
    proc = train("--data", str(data), "--out", str(out), "--time", str(BUDGET), "--engine",
                 "lightning", *TINY, **{SIGNAL_AT_STEP_ENV: "10:INT"})
    assert proc.returncode != 0 and "train --resume" in proc.stderr + proc.stdout
    first = read_metrics_csv(out / "metrics.csv")
    assert [r["step"] for r in first] == [7]
    proc = train("--resume", str(out), "--threads", "1")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert f"the epochs that fit what is left of --time {BUDGET} s" in proc.stdout
    rows = check_ended_on_time(out)
    assert rows[:1] == first  # the finished epoch is kept; the budget goes on from it
    assert rows[1]["elapsed_s"] > first[-1]["elapsed_s"]
