"""IceVision's face modules are generated from one table (tests/fixtures/icevision_faces.py):
every face on disk is what its entry writes, the table and the faces that hold code cover
IceVision 0.12's module tree once each, and a face kept by hand really holds code."""

from __future__ import annotations

import ast
import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

FIXTURES = Path(__file__).parent / "fixtures"


def _load_table():
    spec = importlib.util.spec_from_file_location("icevision_faces", FIXTURES / "icevision_faces.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


FACES = _load_table()
TREE = json.loads((FIXTURES / "icevision_0_12_modules.json").read_text())["modules"]


def test_every_generated_face_is_what_its_entry_writes():
    stale = [str(p.relative_to(FACES.ROOT)) for p in FACES.differing()]
    assert not stale, (f"{stale} differ from their entries in tests/fixtures/icevision_faces.py: "
                       "edit the entry, then run python tests/fixtures/icevision_faces.py")


def test_the_table_and_the_faces_with_code_cover_icevisions_tree_once():
    generated, by_hand = set(FACES.FACES), set(FACES.WITH_CODE)
    assert not generated & by_hand
    assert generated | by_hand == set(TREE)
    assert len(generated) >= 60  # most faces only re-export: they come from the table
    for module, path in FACES.WITH_CODE.items():
        assert FACES.face_path(module) == FACES.ROOT / path


def _statement_is_a_face_line(node: ast.stmt) -> bool:
    """Whether a statement is one of those an entry can write (imports, ``_GATHERED``,
    ``__all__``, ``NOT_OFFERED``, ``__getattr__``, an alias, a ``del``)."""
    if isinstance(node, (ast.Import, ast.ImportFrom, ast.Delete)):
        return True
    if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant):
        return True  # the docstring
    targets = (node.targets if isinstance(node, ast.Assign)
               else [node.target] if isinstance(node, ast.AnnAssign) else [])
    names = [t.id for t in targets if isinstance(t, ast.Name)]
    if names == ["_GATHERED"]:
        return isinstance(node.value, ast.Tuple) and all(
            isinstance(e, ast.Name) for e in node.value.elts)
    if names in (["__all__"], ["NOT_OFFERED"], ["__getattr__"]):
        calls = {ast.unparse(c.func) for c in ast.walk(node) if isinstance(c, ast.Call)}
        return calls <= {"gather", "globals", "merged_not_offered", "dict.fromkeys", "not_offered"}
    return (isinstance(node, ast.Assign) and len(names) == 1
            and isinstance(node.value, (ast.Name, ast.Attribute)))


@pytest.mark.parametrize("module", sorted(FACES.WITH_CODE))
def test_a_face_kept_by_hand_holds_code_an_entry_cannot_write(module):
    tree = ast.parse(FACES.face_path(module).read_text())
    assert not all(_statement_is_a_face_line(n) for n in tree.body), (
        f"{module}'s face only re-exports: give it an entry in tests/fixtures/icevision_faces.py")


@pytest.mark.parametrize("module", sorted(FACES.FACES))
def test_every_generated_face_would_pass_the_hand_check(module):
    # the check above tells a generated face from one with code
    tree = ast.parse(FACES.face_path(module).read_text())
    assert all(_statement_is_a_face_line(n) for n in tree.body)


def test_an_edited_entry_is_caught_and_the_generator_rewrites_the_face(tmp_path, monkeypatch):
    module = "icevision.utils.io"
    entry = dict(FACES.FACES[module])
    constants = FACES._faces_constants()
    before = FACES.render(module, entry, constants)
    assert before == FACES.face_path(module).read_text()
    monkeypatch.setitem(FACES.FACES, module, {**entry, "not_offered": [
        *entry.get("not_offered", []), [["load_yaml"], "FILES"]]})
    assert FACES.face_path(module) in FACES.differing()
    after = FACES.render(module, FACES.FACES[module], constants)
    assert '"load_yaml": FILES,' in after and "from efficientdet_adapter.base.faces import" in after


def test_the_generator_checks_from_the_command_line():
    done = subprocess.run([sys.executable, str(FIXTURES / "icevision_faces.py"), "--check"],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
