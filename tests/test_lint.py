"""The promises a linter can keep: ruff with this project's rules (pyproject.toml: every import
inside a function marked as deliberate; ``torch.load`` only in the one reader, ``torch.save`` and
``os.replace`` only in the atomic writer), and a size budget for every module."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PACKAGE = REPO / "efficientdet_adapter"
#: The most lines a module may have: past it, a module holds more than one job (split it).
MAX_MODULE_LINES = 500


def _ruff(*args: str, cwd: Path = REPO) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "ruff", "check", "--no-cache", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=120)


def test_ruff_passes_on_the_package():
    proc = _ruff("efficientdet_adapter")
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-1000:]


def test_the_rules_catch_what_they_promise(tmp_path):
    """A function-level import without its mark, and a ``torch.load`` outside the reader, are
    both reported (the rules are on, and read from pyproject.toml)."""
    pkg = tmp_path / "efficientdet_adapter" / "records"
    pkg.mkdir(parents=True)
    (tmp_path / "pyproject.toml").write_text((REPO / "pyproject.toml").read_text())
    (pkg / "bad.py").write_text("import torch\n\n\ndef f(path):\n    import json\n"
                                "    return torch.load(path), json\n")
    proc = _ruff("efficientdet_adapter", "--output-format", "concise", cwd=tmp_path)
    assert proc.returncode == 1
    codes = sorted(line.split(": ")[1].split(" ")[0] for line in proc.stdout.splitlines()
                   if ".py:" in line)
    assert codes == ["PLC0415", "TID251"], proc.stdout


def test_no_module_is_over_the_size_budget():
    sizes = {p.relative_to(REPO).as_posix(): len(p.read_text(encoding="utf-8").splitlines())
             for p in PACKAGE.rglob("*.py")}
    assert {name: n for name, n in sizes.items() if n > MAX_MODULE_LINES} == {}
    assert max(sizes.values()) > 300  # the walk found the package's modules
