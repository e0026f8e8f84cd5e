"""One run per folder: a second ``train`` into a folder that a live run holds stops with one
line; a killed run's lock and temporary files are cleaned by the next run; ``predict`` never
writes its JSON beside pictures it does not describe."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from efficientdet_adapter.app.demo import write_demo_dataset
from efficientdet_adapter.base.errors import RunLockedError, UsageError
from efficientdet_adapter.training.run_lock import LOCK_NAME, RunLock, hold_run_folder

REPO = Path(__file__).resolve().parents[1]
TINY = ["--epochs", "1", "--img-size", "128", "--batch-size", "4", "--threads", "1",
        "--pretrained-backbone", "none", "--progress", "lines"]


def env() -> dict[str, str]:
    return {**os.environ, "OMP_NUM_THREADS": "1", "EFFICIENTDET_ADAPTER_OFFLINE": "1",
            "PYTHONPATH": str(REPO), "PYTHONWARNINGS": "ignore::FutureWarning"}  # torch.jit's notice


def cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "efficientdet_adapter", *args], cwd=cwd,
                          env=env(), capture_output=True, text=True, timeout=300)


def one_line(proc: subprocess.CompletedProcess) -> str:
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert "Traceback" not in proc.stderr
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, proc.stderr
    return lines[0]


def write_lock(folder: Path, text: str) -> None:
    """A lock file as a killed run (or damage) leaves it: no process holds it."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / LOCK_NAME).write_text(text)


def info(pid: int, host: str | None = None) -> str:
    return json.dumps({"pid": pid, "host": host or socket.gethostname(),
                       "started": "2026-12-06 01:02:03"})


def holder(folder: Path, *code: str) -> subprocess.Popen:
    """Another process that holds ``folder``'s lock (after running ``code``) until killed."""
    proc = subprocess.Popen(
        [sys.executable, "-c", "import sys, time\n"
         "from efficientdet_adapter.training.run_lock import RunLock\n"
         f"lock = RunLock({str(folder)!r}).acquire()\n" + "".join(f"{c}\n" for c in code)
         + "print('held', flush=True); time.sleep(120)"],
        env=env(), stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "held"
    return proc


# -- the lock itself ------------------------------------------------------------------------------
def test_a_held_lock_refuses_a_second_holder_and_is_released(tmp_path):
    with hold_run_folder(tmp_path / "run") as lock:
        data = json.loads(lock.path.read_text())
        assert data["pid"] == os.getpid() and data["host"] == socket.gethostname()
        with pytest.raises(RunLockedError) as caught:
            RunLock(tmp_path / "run").acquire()
        assert str(caught.value).startswith(
            f"--out {tmp_path / 'run'}: another run (process {os.getpid()} on "
            f"{socket.gethostname()}, started ")
        assert str(caught.value).endswith("is writing this folder; wait for it to end or choose "
                                          "another --out")
    # released: the empty file stays (no one may delete a file another run may be opening)
    assert [(p.name, p.stat().st_size) for p in (tmp_path / "run").iterdir()] == [(LOCK_NAME, 0)]
    RunLock(tmp_path / "run").acquire().release()  # and the next run takes it


@pytest.mark.parametrize("text", [
    info(os.getpid()),  # a container restart: the resuming process has the same pid (1)
    info(os.getppid()),  # pid reuse: the pid belongs to another live process now
    info(12345, host="gpu-node-7"),  # another host's text, no one holding it
    json.dumps({"pid": 10**25}), json.dumps({"pid": "x"}), "[1, 2]", "\x00garbage", "",
], ids=["own-pid", "live-other-pid", "other-host", "huge-pid", "str-pid", "list", "garbage",
        "empty"])
def test_a_lock_file_that_no_process_holds_is_taken_over(tmp_path, text):
    run = tmp_path / "run"
    write_lock(run, text)
    (run / ".last.pt.x7k2m9q0.tmp").write_bytes(b"half a checkpoint")
    (run / ".run.lock.4242.new").write_text("left by the hand-written lock of older versions")
    (run / "last.pt").write_bytes(b"kept")
    lock = RunLock(run).acquire()
    assert json.loads(lock.path.read_text())["pid"] == os.getpid()
    assert lock.stale_temps == [run / ".last.pt.x7k2m9q0.tmp", run / ".run.lock.4242.new"]
    assert sorted(p.name for p in run.iterdir()) == [LOCK_NAME, "last.pt"]
    lock.release()


def test_a_held_lock_with_damaged_text_still_refuses_with_one_line(tmp_path):
    proc = holder(tmp_path, f"open({str(tmp_path / LOCK_NAME)!r}, 'w').write('{{\"pid\": ' "
                            "+ str(10**25) + '}')")
    try:
        with pytest.raises(RunLockedError) as caught:
            RunLock(tmp_path).acquire()
        assert str(caught.value) == (f"--out {tmp_path}: another run (process unknown) is "
                                     "writing this folder; wait for it to end or choose another "
                                     "--out")
    finally:
        proc.kill()
        proc.wait()


def test_a_lock_path_that_is_a_folder(tmp_path):
    (tmp_path / "a" / LOCK_NAME).mkdir(parents=True)  # empty: taken over
    RunLock(tmp_path / "a").acquire().release()
    assert (tmp_path / "a" / LOCK_NAME).is_file()
    (tmp_path / "b" / LOCK_NAME / "x").mkdir(parents=True)  # not empty: refused, left as it is
    with pytest.raises(UsageError) as caught:
        RunLock(tmp_path / "b").acquire()
    assert str(caught.value) == (f"--out {tmp_path / 'b'}: its lock file {tmp_path / 'b' / LOCK_NAME} "
                                 "is a folder; move that folder away and run again")
    assert (tmp_path / "b" / LOCK_NAME / "x").is_dir()


def test_a_holder_killed_with_sigkill_leaves_a_free_lock_and_no_temporary_file(tmp_path):
    proc = holder(tmp_path)
    with pytest.raises(RunLockedError, match=f"another run \\(process {proc.pid} on "):
        RunLock(tmp_path).acquire()
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert [p.name for p in tmp_path.iterdir()] == [LOCK_NAME]  # no .run.lock.<pid>.new
    lock = RunLock(tmp_path).acquire()  # the kernel released it with the process
    assert json.loads(lock.path.read_text())["pid"] == os.getpid()
    lock.release()


def test_the_lock_is_filelocks(tmp_path):
    """The run lock is ``filelock``'s kernel lock (issue 32): a plain ``filelock.FileLock`` on
    the file in another process makes the run refuse, and the run's lock makes FileLock time
    out."""
    from filelock import FileLock, Timeout

    proc = subprocess.Popen(
        [sys.executable, "-c", "import time; from filelock import FileLock\n"
         f"lock = FileLock({str(tmp_path / LOCK_NAME)!r}); lock.acquire()\n"
         "print('held', flush=True); time.sleep(120)"], env=env(), stdout=subprocess.PIPE,
        text=True)
    try:
        assert proc.stdout.readline().strip() == "held"
        with pytest.raises(RunLockedError, match=r"another run \(process unknown\)"):
            RunLock(tmp_path).acquire()
    finally:
        proc.kill()
        proc.wait()
    with hold_run_folder(tmp_path):
        with pytest.raises(Timeout):
            FileLock(str(tmp_path / LOCK_NAME), timeout=0).acquire()


# -- train, as a user runs it ---------------------------------------------------------------------
@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    return write_demo_dataset(tmp_path_factory.mktemp("lock") / "shapes", num_images=12, seed=2)


@pytest.mark.slow
def test_second_train_into_a_held_folder_stops_and_a_killed_holder_does_not_block(data,
                                                                                   tmp_path):
    out = tmp_path / "run"
    held = holder(out)
    try:
        line = one_line(cli("train", "--data", str(data), "--out", str(out), *TINY, cwd=tmp_path))
        assert line.startswith(f"efficientdet-adapter train: error: --out {out}: another run "
                               f"(process {held.pid} on ")
        assert sorted(p.name for p in out.iterdir()) == [LOCK_NAME]  # nothing of the run
    finally:
        held.kill()  # SIGKILL: nothing of it runs, the kernel releases its lock
        held.wait()
    (out / ".last.pt.k2j_x9q1.tmp").write_bytes(b"a save that was killed")
    proc = cli("train", "--data", str(data), "--out", str(out), *TINY, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "wrote" in proc.stdout
    names = {p.name for p in out.iterdir()}
    assert {"model.pt", "last.pt", "metrics.csv"} <= names
    assert [n for n in names if n.startswith(".")] == [LOCK_NAME]  # the temp file gone
    assert (out / LOCK_NAME).stat().st_size == 0  # released


# -- predict ------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def ckpt(tmp_path_factory) -> Path:
    from efficientdet_adapter.checkpoint import save_checkpoint
    from efficientdet_adapter.records.class_map import ClassMap
    from efficientdet_adapter.model.model import model

    path = tmp_path_factory.mktemp("ckpt") / "model.pt"
    cm = ClassMap(["a", "b"])
    save_checkpoint(model(model_name="tf_efficientdet_lite0", num_classes=len(cm), img_size=128,
                          pretrained_backbone=False), path, cm)
    return path


def images(folder: Path, names) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    for name in names:
        Image.fromarray(rng.integers(0, 255, (64, 96, 3), dtype=np.uint8)).save(folder / name)
    return [folder / n for n in names]


def test_predict_into_a_folder_of_another_prediction_refuses(ckpt, tmp_path):
    a = images(tmp_path / "A", ["cat.png", "dog.png"])
    b = images(tmp_path / "B", ["fox.png"])
    out = tmp_path / "p"
    first = cli("predict", *map(str, a), "--checkpoint", str(ckpt), "--out", str(out),
                "--threshold", "0.9", cwd=tmp_path)
    assert first.returncode == 0, first.stderr[-2000:]
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    assert sorted(before) == ["cat.png", "dog.png", "images.json", "predictions.json"]
    line = one_line(cli("predict", *map(str, b), "--checkpoint", str(ckpt), "--out", str(out),
                        "--threshold", "0.9", cwd=tmp_path))
    assert line == (f"efficientdet-adapter predict: error: {out}: holds 2 file(s) these "
                    "predictions would not describe (cat.png, dog.png: an earlier prediction of "
                    "other images?); choose an empty --out folder")
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before  # A's files untouched


def test_demo_into_a_held_folder_stops_with_one_line(tmp_path):
    out = tmp_path / "demo"
    held = holder(out)
    try:
        line = one_line(cli("demo", "--out", str(out), "--data-only", cwd=tmp_path))
        assert line.startswith(f"efficientdet-adapter demo: error: --out {out}: another run "
                               f"(process {held.pid} on ")
        assert sorted(p.name for p in out.iterdir()) == [LOCK_NAME]
    finally:
        held.kill()
        held.wait()
    proc = cli("demo", "--out", str(out), "--data-only", "--num-images", "10", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert (out / LOCK_NAME).stat().st_size == 0  # released
