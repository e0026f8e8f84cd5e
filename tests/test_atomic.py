"""One atomic writer for every saved file: complete or absent, a full disk is one line naming the
file (the earlier file intact), temporary files of killed saves are cleaned by the next run."""

from __future__ import annotations

import errno
import os
import stat

import numpy as np
import pytest
import torch

from efficientdet_adapter import atomic, cli
from efficientdet_adapter.base.atomic import (atomic_save, atomic_write_text, remove_stale_temps)
from efficientdet_adapter.records.class_map import ClassMap
from efficientdet_adapter.base.errors import AdapterError, SaveError


class _FullDisk:
    """A file object whose writes store ``room`` bytes, then fail as a full disk does."""

    def __init__(self, f, room: int):
        self._f, self._room = f, room

    def write(self, data):
        if len(data) > self._room:
            self._f.write(data[: self._room])
            self._room = 0
            raise OSError(errno.ENOSPC, "No space left on device")
        self._room -= len(data)
        return self._f.write(data)

    def __getattr__(self, name):
        return getattr(self._f, name)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self._f.close()


@pytest.fixture
def full_disk(monkeypatch):
    """Every file opened by :mod:`efficientdet_adapter.base.atomic` gets 100 bytes of room."""
    real = os.fdopen
    monkeypatch.setattr(atomic.os, "fdopen", lambda *a, **k: _FullDisk(real(*a, **k), 100))


def hidden(folder):
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


def test_text_is_written_whole_with_the_usual_mode_and_no_temp_left(tmp_path):
    path = atomic_write_text(tmp_path / "sub" / "a.json", '{"x": 1}')
    assert path.read_text() == '{"x": 1}'
    mask = os.umask(0)
    os.umask(mask)
    assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~mask
    assert hidden(path.parent) == []


def test_full_disk_is_a_save_error_naming_the_file_and_the_old_file_stays(tmp_path, full_disk):
    path = tmp_path / "predictions.json"
    path.write_text("old")
    with pytest.raises(SaveError) as info:
        atomic_write_text(path, "x" * 1000)
    assert str(info.value) == (f"{path}: cannot write it (No space left on device); the earlier "
                               "file is intact; free some disk space and run again")
    assert isinstance(info.value, AdapterError)
    assert path.read_text() == "old"
    assert hidden(tmp_path) == []  # the temporary file went with the error


def _tiny_checkpoint(path):
    from efficientdet_adapter.checkpoint import save_checkpoint
    from efficientdet_adapter.model.model import model

    m = model(model_name="tf_efficientdet_lite0", num_classes=3, img_size=128,
              pretrained_backbone=False)
    return save_checkpoint(m, path, ClassMap(["a", "b"]))


def test_a_checkpoint_on_a_full_disk_keeps_the_earlier_one(tmp_path, monkeypatch):
    path = _tiny_checkpoint(tmp_path / "last.pt")
    before = path.read_bytes()
    real = os.fdopen
    monkeypatch.setattr(atomic.os, "fdopen", lambda *a, **k: _FullDisk(real(*a, **k), 4096))
    from efficientdet_adapter.base.atomic import atomic_torch_save

    with pytest.raises(SaveError, match=r"last\.pt: cannot write it \(No space left on device\)"):
        atomic_torch_save({"w": torch.zeros(100_000)}, path)
    assert path.read_bytes() == before
    assert torch.load(path, weights_only=True)["num_classes"] == 3
    assert hidden(tmp_path) == []


def test_export_on_a_full_disk_is_one_line_and_no_partial_onnx(tmp_path, monkeypatch, capsys):
    pytest.importorskip("onnx")
    ckpt = _tiny_checkpoint(tmp_path / "model.pt")
    onnx_path = tmp_path / "model.onnx"
    onnx_path.write_bytes(b"the earlier export")

    def export(model, args, f, **kwargs):  # writes half a file, then the disk is full
        with open(f, "wb") as out:
            out.write(b"\0" * 1000)
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(torch.onnx, "export", export)
    code = cli.main(["export", "--checkpoint", str(ckpt), "--out", str(onnx_path)])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    assert err == [f"efficientdet-adapter export: error: {onnx_path}: cannot write it (No space "
                   "left on device); the earlier file is intact; free some disk space and run "
                   "again"]
    assert onnx_path.read_bytes() == b"the earlier export"
    assert hidden(tmp_path) == []
    fresh = tmp_path / "new.onnx"
    assert cli.main(["export", "--checkpoint", str(ckpt), "--out", str(fresh)]) == 2
    assert not fresh.exists()  # never a partial file under the requested name
    assert "nothing was written under that name" in capsys.readouterr().err


def test_stale_temps_of_killed_saves_are_removed_and_nothing_else(tmp_path):
    stale = [tmp_path / ".last.pt.k2j_x9q1.tmp", tmp_path / ".metrics.csv.ab12cd34.tmp"]
    kept = [tmp_path / ".gitignore", tmp_path / "notes.tmp", tmp_path / ".last.pt.tmp",
            tmp_path / "last.pt"]
    for p in stale + kept:
        p.write_text("x")
    (tmp_path / ".dir.abcdefgh.tmp").mkdir()
    assert remove_stale_temps(tmp_path) == sorted(stale)
    assert all(p.exists() for p in kept) and (tmp_path / ".dir.abcdefgh.tmp").is_dir()
    assert remove_stale_temps(tmp_path / "missing") == []


def test_a_path_writer_that_fails_leaves_nothing(tmp_path):
    def boom(tmp):
        tmp.write_bytes(b"half")
        raise RuntimeError("exporter bug")

    with pytest.raises(RuntimeError):
        atomic_save(tmp_path / "m.ts", boom)
    assert list(tmp_path.iterdir()) == []


def test_one_atomic_writer_in_the_package():
    """No module but atomic.py renames temporary files into place itself."""
    from pathlib import Path

    root = Path(atomic.__file__).parents[1]  # the package (atomic.py sits in base/)
    offenders = [str(p.relative_to(root)) for p in root.rglob("*.py")
                 if p.name != "atomic.py" and "mkstemp(" in p.read_text()]
    assert offenders == []


def test_model_pt_on_a_full_disk_is_one_error_naming_it(tmp_path, monkeypatch):
    from efficientdet_adapter.model.model import model
    from efficientdet_adapter.app.runs import TrainOptions, save_model

    ckpt = _tiny_checkpoint(tmp_path / "model.pt")
    before = ckpt.read_bytes()
    m = model(model_name="tf_efficientdet_lite0", num_classes=3, img_size=128,
              pretrained_backbone=False)
    real = os.fdopen
    monkeypatch.setattr(atomic.os, "fdopen", lambda *a, **k: _FullDisk(real(*a, **k), 10_000))
    with pytest.raises(SaveError) as info:
        save_model(m, ClassMap(["a", "b"]), TrainOptions(), tmp_path, {})
    assert str(info.value) == (f"{ckpt}: cannot write it (No space left on device); the earlier "
                               "file is intact; free some disk space and run again")
    assert ckpt.read_bytes() == before and hidden(tmp_path) == []


def test_dataset_exports_and_plots_are_written_through_the_one_writer(tmp_path, full_disk):
    from efficientdet_adapter.parsers.writers import write_coco
    from efficientdet_adapter.records.record import Record

    rec = Record(record_id=0, filepath=None, width=8, height=8, class_map=ClassMap(["a"]))
    rec.img = np.zeros((8, 8, 3), np.uint8)
    with pytest.raises(SaveError, match=r"cannot write it \(No space left on device\)"):
        write_coco({"train": [rec]}, tmp_path / "export")
    leftovers = [p for p in (tmp_path / "export").rglob("*") if p.is_file()]
    assert all(not p.name.startswith(".") for p in leftovers)
