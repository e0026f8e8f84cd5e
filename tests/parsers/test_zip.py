"""Zip extraction: bombs by ratio, killed extractions, several processes on one zip."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from efficientdet_adapter.base.errors import ParseError
from efficientdet_adapter.parsers._zip import safe_extract

REPO = Path(__file__).resolve().parents[2]


def small_zip(path: Path, n_files: int = 3) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for i in range(n_files):
            zf.writestr(f"train/f{i}.txt", f"file {i}\n" * 50)
    return path


def test_zip_bomb_by_compression_ratio_is_refused_before_writing(tmp_path):
    bomb = tmp_path / "bomb.zip"
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        zf.writestr("train/zeros.bin", b"\0" * (80 << 20))  # 80 MiB in about 80 KB
    size = bomb.stat().st_size
    assert size < 200_000
    with pytest.raises(ParseError, match=r"bomb\.zip: \d+ bytes that expand to 83886080 bytes "
                                         r"\(\d+ times; the limit is 100 times .*max_zip_ratio"):
        safe_extract(bomb, tmp_path / "out")
    assert not (tmp_path / "out").exists()
    assert not [p for p in tmp_path.iterdir() if ".partial-" in p.name]
    # a genuine, highly compressible export passes with a higher limit
    assert safe_extract(bomb, tmp_path / "ok", max_ratio=10_000) == tmp_path / "ok"
    assert (tmp_path / "ok" / "train" / "zeros.bin").stat().st_size == 80 << 20


def test_small_text_zip_may_expand_far(tmp_path):
    """The ratio applies beyond 64 MiB: a small JSON-only zip (1000x) is fine."""
    z = tmp_path / "text.zip"
    with zipfile.ZipFile(z, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("train/_annotations.coco.json", "{}" + " " * 5_000_000)
    safe_extract(z, tmp_path / "text")
    assert (tmp_path / "text" / "train" / "_annotations.coco.json").is_file()


def dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_partial_folder_of_a_killed_extraction_is_removed(tmp_path):
    z = small_zip(tmp_path / "export.zip")
    stale = tmp_path / f".export.partial-{dead_pid()}"
    (stale / "train").mkdir(parents=True)
    (stale / "train" / "big.bin").write_bytes(b"\0" * 1000)
    alive = tmp_path / f".export.partial-{os.getppid()}"  # a running process's: left alone
    alive.mkdir()
    assert safe_extract(z, tmp_path / "export") == tmp_path / "export"
    assert not stale.exists() and alive.exists()
    assert sorted(p.name for p in (tmp_path / "export" / "train").iterdir()) == [
        "f0.txt", "f1.txt", "f2.txt"]


def test_three_processes_extracting_one_zip_all_succeed(tmp_path):
    z = small_zip(tmp_path / "export.zip", n_files=400)
    code = ("import sys; from efficientdet_adapter.parsers._zip import safe_extract; "
            "print(safe_extract(sys.argv[1], sys.argv[2]))")
    env = {**os.environ, "PYTHONPATH": str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    procs = [subprocess.Popen([sys.executable, "-c", code, str(z), str(tmp_path / "export")],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
             for _ in range(3)]
    results = [p.communicate(timeout=120) + (p.returncode,) for p in procs]
    for out, err, rc in results:
        assert rc == 0, err
        assert out.strip() == str(tmp_path / "export")
    assert len(list((tmp_path / "export" / "train").iterdir())) == 400
    assert not [p for p in tmp_path.iterdir() if ".partial-" in p.name]
