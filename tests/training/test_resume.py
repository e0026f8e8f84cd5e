"""Kill a real ``train`` with SIGKILL in the middle of an epoch, resume it, and get the run that
was never interrupted: the same optimizer steps, the same weights (the EMA's and the raw ones),
the same best score and early-stopping counter, metrics.csv without gaps or duplicates; with
either engine."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from efficientdet_adapter.app.demo import write_demo_dataset
from efficientdet_adapter.engines.core import SIGNAL_AT_STEP_ENV
from efficientdet_adapter.training.csvlog import read_metrics_csv
from lightning_for_tests import lightning_or_skip

REPO = Path(__file__).resolve().parents[2]
RUN = ["--epochs", "3", "--img-size", "128", "--batch-size", "4", "--threads", "1", "--aug",
       "full", "--deterministic", "--progress", "lines", "--pretrained-backbone", "none",
       "--ema", "--patience", "5"]


def start(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.Popen:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "EFFICIENTDET_ADAPTER_OFFLINE": "1",
           "PYTHONPATH": str(REPO), **(env or {})}
    return subprocess.Popen([sys.executable, "-m", "efficientdet_adapter", "train", *args],
                            cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)


def raw_weights(ckpt: dict) -> dict:
    """The trained (not averaged) weights in a ``last.pt`` of a run with ``--ema``: fastai's
    ride along as ``model``, Lightning's in its own checkpoint dict."""
    state = ckpt["extra"]["train_state"]
    if "lightning" in state:
        return {k.removeprefix("model.model."): v
                for k, v in state["lightning"]["state_dict"].items()}
    return state["model"]


def last_epoch(path: Path) -> int:
    return int(torch.load(path, weights_only=True)["extra"]["epoch"])


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    return write_demo_dataset(tmp_path_factory.mktemp("resume") / "shapes", num_images=20, seed=3)


@pytest.mark.slow
@pytest.mark.parametrize("engine", ["fastai", "lightning"])
def test_sigkill_mid_epoch_then_resume_equals_an_uninterrupted_run(engine, data, tmp_path):
    pytest.importorskip("fastai") if engine == "fastai" else lightning_or_skip()
    whole, killed = tmp_path / "whole", tmp_path / "killed"
    run = [*RUN, "--engine", engine]
    ref = start("--data", str(data), "--out", str(whole), *run, cwd=tmp_path)
    # 14 train images in batches of 4 (the last dropped): 3 steps an epoch; SIGKILL right
    # after step 5, the second step of epoch 2 (the run core's test-only hook)
    victim = start("--data", str(data), "--out", str(killed), *run, cwd=tmp_path,
                   env={SIGNAL_AT_STEP_ENV: "5:KILL"})
    _, err = victim.communicate(timeout=180)
    assert victim.returncode == -signal.SIGKILL, err[-2000:]
    assert last_epoch(killed / "last.pt") == 1  # epoch 2 never finished
    assert [r["epoch"] for r in read_metrics_csv(killed / "metrics.csv")] == [1]

    resumed = start("--resume", str(killed), cwd=tmp_path)
    out, err = resumed.communicate(timeout=180)
    assert resumed.returncode == 0, err[-3000:]
    assert "resuming" in out and "epoch 2/3" in out and "epoch 1/3" not in out
    assert f"({engine}); resuming" in out
    out, err = ref.communicate(timeout=180)
    assert ref.returncode == 0, err[-3000:]

    a = torch.load(whole / "last.pt", weights_only=True)
    b = torch.load(killed / "last.pt", weights_only=True)
    assert a["extra"]["epoch"] == b["extra"]["epoch"] == 3
    assert a["extra"]["step"] == b["extra"]["step"] > 6  # every optimizer step, none twice
    for key, tensor in a["state_dict"].items():  # the EMA: the model users get
        torch.testing.assert_close(b["state_dict"][key], tensor, rtol=1e-4, atol=1e-5, msg=key)
    raw_a, raw_b = raw_weights(a), raw_weights(b)
    assert set(raw_a) == set(a["state_dict"])
    for key, tensor in raw_a.items():  # the weights the optimizer trains
        torch.testing.assert_close(raw_b[key], tensor, rtol=1e-4, atol=1e-5, msg=key)
    run_a, run_b = a["extra"]["train_state"]["run"], b["extra"]["train_state"]["run"]
    assert run_b["bad_epochs"] == run_a["bad_epochs"]  # the early-stopping counter
    assert run_b["best_score"] == pytest.approx(run_a["best_score"], rel=1e-4)
    rows_a, rows_b = read_metrics_csv(whole / "metrics.csv"), read_metrics_csv(killed / "metrics.csv")
    assert [r["epoch"] for r in rows_b] == [1, 2, 3]
    assert [r["step"] for r in rows_b] == [r["step"] for r in rows_a]
    for ra, rb in zip(rows_a, rows_b):
        assert rb["train_loss"] == pytest.approx(ra["train_loss"], rel=1e-4)
    assert a["extra"]["best_epoch"] == b["extra"]["best_epoch"]
