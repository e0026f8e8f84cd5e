"""``from <module> import *`` works for every module of the package that declares ``__all__``:
each name it lists exists (a stale name, as ``demo``'s removed ``main`` was, fails here)."""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

PACKAGE = "efficientdet_adapter"
ROOT = Path(__file__).resolve().parents[1] / PACKAGE
#: Optional extras: a module that needs one that is not installed is skipped, not failed.
OPTIONAL = {"fastai", "fastcore", "lightning", "pytorch_lightning", "wandb", "sahi", "onnx",
            "onnxruntime", "tensorboard", "torch_tensorrt"}


def _declares_all(path: Path) -> bool:
    return any(
        isinstance(node, (ast.Assign, ast.AnnAssign))
        and any(isinstance(t, ast.Name) and t.id == "__all__"
                for t in (node.targets if isinstance(node, ast.Assign) else [node.target]))
        for node in ast.parse(path.read_text(encoding="utf-8")).body
    )


def _module_name(path: Path) -> str:
    parts = [PACKAGE, *path.relative_to(ROOT).with_suffix("").parts]
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = sorted(_module_name(p) for p in ROOT.rglob("*.py") if _declares_all(p))


def test_the_table_finds_the_modules():
    assert len(MODULES) > 100
    assert {PACKAGE, f"{PACKAGE}.app.demo", f"{PACKAGE}.parsers.writers", f"{PACKAGE}.parsers"} <= set(MODULES)


@pytest.mark.parametrize("name", MODULES)
def test_star_import_brings_every_name_of_all(name):
    try:
        module = importlib.import_module(name)
    except ImportError as e:  # ours re-raise a missing extra with the pip line that fixes it
        missing = e if isinstance(e, ModuleNotFoundError) else e.__cause__
        if (getattr(missing, "name", None) or "").split(".")[0] in OPTIONAL:
            pytest.skip(f"{name} needs the optional {missing.name}")
        raise
    missing = [n for n in module.__all__ if not hasattr(module, n)]
    assert missing == [], f"{name}.__all__ names what it does not define"
    namespace: dict = {}
    exec(f"from {name} import *", namespace)  # noqa: S102 - the statement under test
    assert set(module.__all__) <= set(namespace)
