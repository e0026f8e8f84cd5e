"""Export files are never lost or misnamed: a full disk, a kill mid-write and a suffix of another
format each end in one line (or the older file intact); the summary line says what the file takes;
``predict`` given a ``.pt2`` program says what it is."""

from __future__ import annotations

import errno
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch

from efficientdet_adapter import atomic, cli
from efficientdet_adapter.records.class_map import ClassMap
from efficientdet_adapter.base.errors import ExportError

REPO = Path(__file__).resolve().parents[2]
PREFIX = "efficientdet-adapter"


def _checkpoint(path: Path) -> Path:
    from efficientdet_adapter.checkpoint import save_checkpoint
    from efficientdet_adapter.model.model import model

    m = model(model_name="tf_efficientdet_lite0", num_classes=3, img_size=128,
              pretrained_backbone=False)
    return save_checkpoint(m, path, ClassMap(["a", "b"]))


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1",
            "EFFICIENTDET_ADAPTER_OFFLINE": "1", "PYTHONWARNINGS": "ignore::FutureWarning"}


def _hidden(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


class _Tiny(torch.nn.Module):
    """One op and 400 KB of weights: more than the full folder's room."""

    def __init__(self):
        super().__init__()
        self.w = torch.nn.Parameter(torch.ones(100_000))

    def forward(self, x):
        return x + self.w[:2]


def _tiny_program(monkeypatch):
    """``torch.export.export`` of a one-op module: the file-writing path without the tracing
    (the detector's program is run in test_export.py)."""
    real = torch.export.export
    monkeypatch.setattr(torch.export, "export",
                        lambda *a, **k: real(_Tiny(), (torch.zeros(2),)))


def test_the_summary_says_what_the_program_takes_and_predict_names_it(tmp_path, monkeypatch,
                                                                       capsys):
    from PIL import Image

    ckpt = _checkpoint(tmp_path / "model.pt")
    _tiny_program(monkeypatch)
    assert cli.main(["export", "--checkpoint", str(ckpt), "--format", "torch-export"]) == 0
    program = tmp_path / "model.pt2"  # beside the checkpoint by default
    assert capsys.readouterr().out.strip() == (
        f"wrote {program}, a torch.export program: boxes, scores, classes = "
        "torch.export.load(path).module()(images); images float32 [B, 3, 128, 128] (only this "
        "size; B from 1 to 1024), RGB in 0..1 normalized with mean (0.5, 0.5, 0.5), std (0.5, "
        "0.5, 0.5); outputs are candidates before NMS (boxes xyxy in input pixels): finish with "
        "efficientdet_adapter.efficientdet.onnx_postprocess(boxes, scores, classes)")
    Image.new("RGB", (64, 48)).save(tmp_path / "a.png")
    code = cli.main(["predict", str(tmp_path / "a.png"), "--checkpoint", str(program), "--out",
                     str(tmp_path / "preds")])
    assert code == 2
    assert capsys.readouterr().err.strip().splitlines() == [
        f"{PREFIX} predict: error: {program}: a torch.export program (what `export --format "
        "torch-export` writes), not a checkpoint; run it with torch.export.load(path).module()"
        "(images) and efficientdet_adapter.efficientdet.onnx_postprocess (see docs/export.md), "
        "or give the model.pt it was exported from"]


def test_the_onnx_summary_is_one_line_with_the_graphs_own_contract(tmp_path, monkeypatch,
                                                                    capsys):
    """``export --format onnx`` printed the end-to-end graph's line and then the torch.export
    program's (float32 in, candidates before NMS) for the same file: one line now, the graph's."""
    from efficientdet_adapter.checkpoints import export as export_module

    ckpt = _checkpoint(tmp_path / "model.pt")

    def fake_export_onnx(model, path, **kwargs):  # the graph is tested in test_export.py
        Path(path).write_bytes(b"onnx")
        return Path(path)

    monkeypatch.setattr(export_module, "export_onnx", fake_export_onnx)
    assert cli.main(["export", "--checkpoint", str(ckpt), "--format", "onnx"]) == 0
    onnx = tmp_path / "model.onnx"
    assert capsys.readouterr().out.strip().splitlines() == [
        f"wrote {onnx}: input 'images' uint8 [B, H, W, 3] RGB, resized and padded; outputs "
        "boxes, scores, classes, num_detections (NMS inside); class names, size and "
        f"normalization in its metadata. Run it: {PREFIX} predict IMAGES --checkpoint {onnx}"]


@pytest.mark.parametrize("fmt, name, fixed", [("torch-export", "m.onnx", "m.pt2"),
                                              ("onnx", "m.pt2", "m.onnx"),
                                              ("torchscript", "m.pt2", "m.ts")])
def test_a_suffix_of_another_format_is_refused_before_any_work(tmp_path, capsys, fmt, name,
                                                               fixed):
    other = {".onnx": "onnx", ".pt2": "torch-export"}[Path(name).suffix]
    code = cli.main(["export", "--checkpoint", str(tmp_path / "absent.pt"), "--format", fmt,
                     "--out", str(tmp_path / name)])
    assert code == 2
    assert capsys.readouterr().err.strip().splitlines() == [
        f"{PREFIX} export: error: {tmp_path / name}: its suffix {Path(name).suffix} is the "
        f"{other} format's, but this is a {fmt} file; name it {fixed} (or export with format "
        f"{other})"]
    assert list(tmp_path.iterdir()) == []


def test_the_python_api_refuses_the_suffix_too(tmp_path):
    from efficientdet_adapter.checkpoints.export import export_program

    with pytest.raises(ExportError, match=r"m\.onnx: its suffix \.onnx is the onnx format's"):
        export_program(torch.nn.Identity(), tmp_path / "m.onnx")


@pytest.fixture
def full_folder(tmp_path, monkeypatch):
    """A folder with 64 KiB of room: a tmpfs where mounting is allowed (root), else every file
    :mod:`efficientdet_adapter.base.atomic` opens fails past 64 KiB as a full disk does."""
    folder = tmp_path / "full"
    folder.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(folder)],
                             capture_output=True).returncode == 0 if os.geteuid() == 0 else False
    if not mounted:
        real = os.fdopen

        class Full:
            def __init__(self, f):
                self._f, self._room = f, 64 * 1024

            def write(self, data):
                if len(data) > self._room:
                    self._f.write(bytes(data[: self._room]))
                    raise OSError(errno.ENOSPC, "No space left on device")
                self._room -= len(data)
                return self._f.write(data)

            def flush(self):
                self._f.flush()

            def __enter__(self):
                return self

            def __exit__(self, *exc):
                self._f.close()

        monkeypatch.setattr(atomic.os, "fdopen", lambda *a, **k: Full(real(*a, **k)))
    yield folder
    if mounted:
        subprocess.run(["umount", str(folder)], check=True)


def test_torch_export_onto_a_full_disk_keeps_the_older_file(tmp_path, full_folder, monkeypatch,
                                                            capsys):
    ckpt = _checkpoint(tmp_path / "model.pt")
    older = full_folder / "m.pt2"
    older.write_bytes(b"the older program")
    _tiny_program(monkeypatch)
    code = cli.main(["export", "--checkpoint", str(ckpt), "--format", "torch-export", "--out",
                     str(older)])
    assert code == 2
    assert capsys.readouterr().err.strip().splitlines() == [
        f"{PREFIX} export: error: {older}: cannot write it (No space left on device); the "
        "earlier file is intact; free some disk space and run again"]
    assert older.read_bytes() == b"the older program"
    assert _hidden(full_folder) == []  # no temporary file left


_KILLED_MID_WRITE = textwrap.dedent("""
    import os, sys, time, torch
    from efficientdet_adapter import atomic, cli

    class Tiny(torch.nn.Module):
        def forward(self, x):
            return x + 1

    real_export, real_fdopen = torch.export.export, os.fdopen
    torch.export.export = lambda *a, **k: real_export(Tiny(), (torch.zeros(2),))

    class Slow:  # writes a little, says so, then waits for the signal
        def __init__(self, f):
            self.f = f
        def write(self, data):
            self.f.write(bytes(data[:100]))
            self.f.flush()
            print("writing", flush=True)
            time.sleep(120)
        def __enter__(self):
            return self
        def __exit__(self, *exc):
            self.f.close()

    atomic.os.fdopen = lambda *a, **k: Slow(real_fdopen(*a, **k))
    sys.exit(cli.main(["export", "--checkpoint", sys.argv[1], "--format", "torch-export",
                       "--out", sys.argv[2]]))
""")


def test_a_kill_mid_export_leaves_the_older_file_intact(tmp_path):
    """SIGTERM (what docker stop sends) and SIGKILL while the new file is being written: the
    older file under the name stays whole (the two runs side by side, to save time). SIGTERM
    also removes the temporary file and says so in one line, exit status 143."""
    ckpt = _checkpoint(tmp_path / "model.pt")
    runs = {}
    for sig in (signal.SIGTERM, signal.SIGKILL):
        older = tmp_path / sig.name / "m.pt2"
        older.parent.mkdir()
        older.write_bytes(b"the older program")
        runs[sig] = older, subprocess.Popen(
            [sys.executable, "-c", _KILLED_MID_WRITE, str(ckpt), str(older)], env=_env(),
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        for sig, (older, proc) in runs.items():
            assert proc.stdout.readline().strip() == "writing", proc.stderr.read()[-2000:]
            proc.send_signal(sig)
            assert proc.wait(timeout=60) == (143 if sig == signal.SIGTERM else -sig)
            assert older.read_bytes() == b"the older program"
            if sig == signal.SIGTERM:
                assert proc.stderr.read().strip().splitlines() == [
                    f"{PREFIX} export: stopped by SIGTERM; {older}: the earlier file is intact"]
                assert _hidden(older.parent) == []  # its temporary file removed
            else:  # nothing runs after SIGKILL: the hidden temporary file is all it leaves
                assert [p.name.startswith(".m.pt2.") for p in older.parent.iterdir()
                        if p != older] == [True]
    finally:
        for _, proc in runs.values():
            proc.kill()
            proc.wait()
            proc.stdout.close()
            proc.stderr.close()
    assert torch.load(ckpt, weights_only=True)["num_classes"] == 3  # the input untouched
