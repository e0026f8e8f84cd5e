"""A run stopped from outside loses no finished epoch: ``last.pt`` is written before the epoch's
row reaches ``metrics.csv`` (a SIGKILL or Ctrl-C between the two), and SIGTERM (schedulers,
``docker stop``) stops a run as Ctrl-C does: state saved, lock released, the resume command
printed. Real ``train`` subprocesses, stopped by the run's test-only signal hooks."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from efficientdet_adapter.app.demo import write_demo_dataset
from efficientdet_adapter.training.csvlog import read_metrics_csv
from efficientdet_adapter.training.interrupts import (SIGNAL_AFTER_CHECKPOINT_ENV,
                                                      SIGNAL_AT_STEP_ENV, Terminated,
                                                      stop_on_sigterm)
from efficientdet_adapter.training.run_lock import LOCK_NAME
from lightning_for_tests import lightning_or_skip

REPO = Path(__file__).resolve().parents[2]
# 14 train images in batches of 4 (the last dropped): 3 steps an epoch
RUN = ["--epochs", "2", "--img-size", "128", "--batch-size", "4", "--threads", "1",
       "--progress", "lines", "--pretrained-backbone", "none"]
PROG = "efficientdet-adapter train"


def train(*args: str, cwd: Path, env: dict[str, str] | None = None
          ) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "EFFICIENTDET_ADAPTER_OFFLINE": "1",
           "PYTHONPATH": str(REPO), "PYTHONWARNINGS": "ignore::FutureWarning", **(env or {})}
    return subprocess.run([sys.executable, "-m", "efficientdet_adapter", "train", *args],
                          cwd=cwd, env=env, capture_output=True, text=True, timeout=300)


def last_line(proc: subprocess.CompletedProcess) -> str:
    assert "Traceback" not in proc.stderr, proc.stderr[-3000:]
    return [ln for ln in proc.stderr.splitlines() if ln.strip()][-1]


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    return write_demo_dataset(tmp_path_factory.mktemp("stops") / "shapes", num_images=20, seed=3)


def saved(run: Path) -> dict:
    return torch.load(run / "last.pt", weights_only=True)["extra"]


@pytest.mark.slow
def test_sigkill_between_last_pt_and_the_log_row_loses_no_epoch(data, tmp_path):
    run = tmp_path / "run"
    killed = train("--data", str(data), "--out", str(run), *RUN, cwd=tmp_path,
                   env={SIGNAL_AFTER_CHECKPOINT_ENV: "1:KILL"})
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]
    assert saved(run)["epoch"] == 1  # the checkpoint came first
    assert [r["epoch"] for r in read_metrics_csv(run / "metrics.csv")] == []  # the row did not
    kept_row = saved(run)["train_state"]["row"]
    assert (kept_row["epoch"], kept_row["step"]) == (1, 3)

    resumed = train("--resume", str(run), cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert "epoch 2/2" in resumed.stdout and "epoch 1/2" not in resumed.stdout
    rows = read_metrics_csv(run / "metrics.csv")
    assert [r["epoch"] for r in rows] == [1, 2]  # epoch 1's row, from last.pt
    assert rows[0]["train_loss"] == pytest.approx(kept_row["train_loss"])
    assert rows[1]["step"] == 6


@pytest.mark.slow
def test_ctrl_c_between_last_pt_and_the_log_row_says_how_to_resume(data, tmp_path):
    run = tmp_path / "run"
    proc = train("--data", str(data), "--out", str(run), *RUN, cwd=tmp_path,
                 env={SIGNAL_AFTER_CHECKPOINT_ENV: "1:INT"})
    assert proc.returncode == 130, proc.stderr[-2000:]
    assert last_line(proc) == (f"{PROG}: training interrupted; {run / 'last.pt'} keeps the last "
                               f"finished epoch; continue with: {PROG} --resume {run}")
    assert saved(run)["epoch"] == 1


@pytest.mark.slow
@pytest.mark.parametrize("engine", ["fastai", "lightning"])
def test_sigterm_saves_releases_the_lock_and_prints_the_resume_command(engine, data, tmp_path):
    pytest.importorskip("fastai") if engine == "fastai" else lightning_or_skip()
    run = tmp_path / "run"
    # SIGTERM right after step 4, in epoch 2: epoch 1 is in last.pt
    proc = train("--data", str(data), "--out", str(run), *RUN, "--engine", engine, cwd=tmp_path,
                 env={SIGNAL_AT_STEP_ENV: "4:TERM"})
    assert proc.returncode == 143, proc.stderr[-2000:]
    assert last_line(proc) == (f"{PROG}: training stopped by SIGTERM; {run / 'last.pt'} keeps "
                               f"the last finished epoch; continue with: {PROG} --resume {run}")
    assert saved(run)["epoch"] == 1
    assert [r["epoch"] for r in read_metrics_csv(run / "metrics.csv")] == [1]
    assert (run / LOCK_NAME).read_text() == ""  # released, in the process's own finally
    assert not any(p.name.endswith(".tmp") for p in run.iterdir())
    resumed = train("--resume", str(run), cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert [r["epoch"] for r in read_metrics_csv(run / "metrics.csv")] == [1, 2]


def test_sigterm_from_another_process_raises_terminated_in_the_block(tmp_path):
    code = ("import time\n"
            "from efficientdet_adapter.training.interrupts import stop_on_sigterm\n"
            "try:\n"
            "    with stop_on_sigterm():\n"
            "        print('ready', flush=True); time.sleep(60)\n"
            "except KeyboardInterrupt as e:\n"
            "    print(type(e).__name__, e.exit_code, e, flush=True)\n")
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONPATH": str(REPO)})
    assert proc.stdout.readline().strip() == "ready"
    time.sleep(0.2)
    proc.send_signal(signal.SIGTERM)
    out, _ = proc.communicate(timeout=60)
    assert (out.strip(), proc.returncode) == ("Terminated 143 stopped by SIGTERM", 0)


def test_stop_on_sigterm_puts_the_old_handler_back():
    before = signal.getsignal(signal.SIGTERM)
    with stop_on_sigterm():
        assert signal.getsignal(signal.SIGTERM) is not before
        with pytest.raises(Terminated):
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(5)  # the handler raises before this ends
    assert signal.getsignal(signal.SIGTERM) is before
