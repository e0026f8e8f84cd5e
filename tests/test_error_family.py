"""Every error the package raises on purpose is one of its own (``AdapterError`` and kin), so the
command line can turn exactly that family into one line: the package's ``raise`` statements are
parsed with ``ast`` and none may raise a bare builtin error, except where a protocol asks for it."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from efficientdet_adapter.base import errors

ROOT = Path(__file__).resolve().parents[1] / "efficientdet_adapter"

#: Builtin errors a user could cause; the library raises its own subclasses of them instead.
BUILTINS = {"ValueError", "TypeError", "RuntimeError", "KeyError", "IndexError", "OSError",
            "IOError", "FileNotFoundError", "FileExistsError", "Exception", "AssertionError"}

#: (file, function) pairs where a builtin is the contract, and why.
ALLOWED = {
    # Mapping protocol: dict(), ``in`` and ``.get`` read a KeyError as "no such key"
    ("records/record.py", "__getitem__"),
    ("records/predictions.py", "__getitem__"),
    ("model/icevision.py", "__getitem__"),
    # IceVision's RecordCollection.get_by_record_id: callers catch KeyError
    ("records/collection.py", "get_by_record_id"),
    # an invariant (M + 1 sweeps always settle), not an input check
    ("model/ops/batched_nms.py", "_greedy"),
}


def _bare_raises() -> list[str]:
    found = []
    for path in sorted(ROOT.rglob("*.py")):
        rel = path.relative_to(ROOT).as_posix()
        tree = ast.parse(path.read_text(encoding="utf-8"))
        funcs = [n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))]
        for func in funcs:  # (a nested function's raises are checked under each enclosing one)
            for node in ast.walk(func):
                if not isinstance(node, ast.Raise) or node.exc is None:
                    continue
                exc = node.exc.func if isinstance(node.exc, ast.Call) else node.exc
                name = exc.id if isinstance(exc, ast.Name) else None
                if name in BUILTINS and (rel, func.name) not in ALLOWED:
                    found.append(f"{rel}:{node.lineno} ({func.name}) raises {name}")
    return sorted(set(found))


def test_no_bare_builtin_errors():
    assert _bare_raises() == []


def test_the_allow_list_is_still_needed():
    """A pair listed in ALLOWED that no longer raises a builtin is dropped from the list."""
    live = set()
    for rel, func in ALLOWED:
        tree = ast.parse((ROOT / rel).read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef) and node.name == func and any(
                isinstance(r, ast.Raise) and isinstance(r.exc, ast.Call)
                and getattr(r.exc.func, "id", None) in BUILTINS for r in ast.walk(node)
            ):
                live.add((rel, func))
    assert live == ALLOWED


@pytest.mark.parametrize("name", errors.__all__)
def test_every_error_is_in_the_family_and_keeps_its_builtin(name):
    cls = getattr(errors, name)
    assert issubclass(cls, errors.AdapterError)
    if name != "AdapterError":  # each one also is the builtin callers caught before it existed
        assert set(cls.__mro__) & {ValueError, TypeError, RuntimeError, KeyError, OSError}, name


def test_the_sweep_kept_the_builtins_callers_catch():
    """Errors that were plain ValueError/TypeError before are still caught as such."""
    from efficientdet_adapter import ClassMap, RandomSplitter
    from efficientdet_adapter.compat import get_image_files
    from efficientdet_adapter.base.errors import ArgumentError, PathNotFoundError

    with pytest.raises(ValueError, match="sum to 1") as caught:
        RandomSplitter([0.5, 0.2])
    assert isinstance(caught.value, ArgumentError)
    with pytest.raises(FileNotFoundError, match="nowhere: not a folder") as caught:
        get_image_files("nowhere")
    assert isinstance(caught.value, PathNotFoundError)
    assert ClassMap(["a"]).get_by_name("a") == 1


def test_the_package_offers_every_error():
    import efficientdet_adapter

    assert sorted(set(errors.__all__) - set(efficientdet_adapter.__all__)) == []
    for name in errors.__all__:
        assert getattr(efficientdet_adapter, name) is getattr(errors, name)
