"""Modules that moved when the folders became layers keep their old import paths: the old name
is the new module itself (one object, so patching either patches both), in a fresh interpreter
too, and every entry of the table points at a module that exists."""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
from pathlib import Path

import pytest

from efficientdet_adapter.base.moved import MOVED, PACKAGE

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("old,new", sorted(MOVED.items()))
def test_an_old_path_is_the_new_module(old, new):
    assert not (REPO / PACKAGE / (old.replace(".", "/") + ".py")).exists()  # no stale file
    moved = importlib.import_module(f"{PACKAGE}.{old}")
    assert moved is importlib.import_module(f"{PACKAGE}.{new}")
    assert moved.__name__ == moved.__spec__.name == f"{PACKAGE}.{new}"


def test_old_imports_work_in_a_fresh_interpreter(tmp_path):
    code = ("from efficientdet_adapter.runs import TrainOptions\n"
            "from efficientdet_adapter.dataset import Dataset\n"
            "from efficientdet_adapter.engines.steps import loss_step\n"
            "import efficientdet_adapter.efficientdet.prediction as p\n"
            "import efficientdet_adapter.app.runs as r\n"
            "print(TrainOptions.__module__, Dataset.__module__, loss_step.__module__, p.__name__,"
            " TrainOptions is r.TrainOptions)\n")
    env = {**os.environ, "PYTHONPATH": str(REPO), "PYTHONWARNINGS": "ignore"}
    proc = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.split() == ["efficientdet_adapter.app.runs",
                                   "efficientdet_adapter.records.dataset",
                                   "efficientdet_adapter.loop.steps",
                                   "efficientdet_adapter.inference.prediction", "True"]


def test_an_unknown_path_still_fails_as_python_says():
    with pytest.raises(ModuleNotFoundError, match="efficientdet_adapter.no_such_module"):
        importlib.import_module("efficientdet_adapter.no_such_module")


def test_an_old_path_does_not_rebind_a_face_name():
    """``efficientdet.model`` is the function: importing the old module path
    ``efficientdet_adapter.efficientdet.model`` (now ``model.model``) leaves it so."""
    from efficientdet_adapter import efficientdet

    module = importlib.import_module("efficientdet_adapter.efficientdet.model")
    assert module.__name__ == "efficientdet_adapter.model.model"
    assert callable(efficientdet.model) and efficientdet.model is module.model
