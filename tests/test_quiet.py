"""Quiet and quick by default: help answers without importing torch, and importing the library
prints no dependency's warning (the commands' own runs are checked in test_cli's `run`)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from cli_output import dependency_warnings

REPO = Path(__file__).resolve().parents[1]
HEAVY = ("torch", "torchvision", "timm", "effdet", "albumentations", "fastai")


def _python(code: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(REPO), "PYTHONWARNINGS": "default"}
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], env=env,
                          capture_output=True, text=True, timeout=300)


def test_every_help_answers_without_importing_torch():
    proc = _python(f"""
        import sys
        from efficientdet_adapter.app.cli import build_parser, main
        commands = [[]] + [[name] for name in ("train", "eval", "predict", "export", "demo",
                                               "check")]
        for command in commands:
            try:
                main([*command, "--help"])
            except SystemExit as e:
                assert e.code == 0, (command, e.code)
        print("HEAVY", [m for m in {HEAVY!r} if m in sys.modules])
    """)
    assert proc.returncode == 0, proc.stderr
    assert "usage: efficientdet-adapter train" in proc.stdout
    assert proc.stdout.strip().splitlines()[-1] == "HEAVY []"


@pytest.mark.parametrize("statement", [
    "import efficientdet_adapter.all",
    "import efficientdet_adapter.imports",
    "from efficientdet_adapter import efficientdet; efficientdet.lightning; efficientdet.fastai",
])
def test_importing_prints_no_dependency_warning(statement):
    proc = _python(statement)
    assert proc.returncode == 0, proc.stderr
    assert dependency_warnings(proc.stderr) == []
    assert proc.stderr == ""


def test_dependency_warnings_reads_python_warning_lines():
    text = ("/venv/lib/site-packages/torch/jit/_script.py:1491: FutureWarning: `torch.jit.script` "
            "is deprecated.\n  warnings.warn(\n"
            "/repo/efficientdet_adapter/app/cli.py:10: UserWarning: ours\n")
    assert dependency_warnings(text) == [
        "/venv/lib/site-packages/torch/jit/_script.py:1491: FutureWarning: `torch.jit.script` "
        "is deprecated."]
