"""Every notebook in ``notebooks/`` is a document stored with its outputs, and those outputs came
from the stored code; the tutorial runs top to bottom in a real Jupyter kernel."""

from __future__ import annotations

import base64
import re
from pathlib import Path

import nbformat
import pytest

from kernel import HASH_KEY, QUICK_ENV, code_hash, execute, images, kernel_env, output_text

REPO_ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = sorted((REPO_ROOT / "notebooks").rglob("*.ipynb"))
TUTORIAL = REPO_ROOT / "notebooks" / "getting_started.ipynb"
MAX_BYTES = 3_000_000


def test_tutorial_runs_in_a_kernel(tmp_path):
    nb = execute(TUTORIAL, tmp_path, kernel_env(**{QUICK_ENV: "1"}, HOME=str(tmp_path)))
    out = output_text(nb)
    pictures = images(nb)
    # records, a batch, predictions and the confusion matrix, drawn inline by the kernel
    assert len(pictures) >= 4
    assert all(base64.b64decode(p)[:8] == b"\x89PNG\r\n\x1a\n" for p in pictures)
    assert "train_loss" in out and "COCOMetric" in out  # fastai's table, as HTML
    assert "AP (IoU=0.50:0.95) area=all" in out  # the metric's numbers as a table
    assert "tf_efficientdet_lite0 (128, 128) True" in out  # the checkpoint loads back
    assert "same detections after loading: True" in out
    assert (tmp_path / "notebook_out" / "model.onnx").stat().st_size > 1_000_000
    assert (tmp_path / "notebook_out" / "confusion_matrix.png").stat().st_size > 5_000


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[str(p.relative_to(REPO_ROOT)) for p in NOTEBOOKS])
def test_stored_notebook_has_outputs_of_its_code(path):
    """Run top to bottom (execution counts 1..n), no error or traceback in any output, the
    code unchanged since the run (the hash stored with the outputs), a few MB at most."""
    assert path.stat().st_size < MAX_BYTES, f"{path.name}: {path.stat().st_size} bytes"
    nb = nbformat.read(path, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code" and c.source.strip()]
    assert [c.execution_count for c in code] == list(range(1, len(code) + 1)), (
        f"{path.name} was not stored from one top-to-bottom run; store it with "
        f"`python tests/notebooks/kernel.py {path.relative_to(REPO_ROOT)}`")
    assert any(c.outputs for c in code), f"{path.name} is stored without outputs"
    for i, cell in enumerate(code):
        for o in cell.outputs:
            assert o.output_type != "error", f"{path.name}, code cell {i}: an error output"
            text = o.get("text", "") + str(o.get("data", {}).get("text/plain", ""))
            assert "Traceback (most recent call last)" not in text, f"{path.name}, cell {i}"
    stored = nb.metadata.get(HASH_KEY, {}).get("code_sha256")
    assert stored == code_hash(nb), (
        f"{path.name}: its code changed after its outputs were stored; re-run and store it")


def test_tutorial_is_stored_with_pictures_and_a_training_table():
    nb = nbformat.read(TUTORIAL, as_version=4)
    assert len(images(nb)) >= 4  # records, a batch, predictions, the confusion matrix
    out = output_text(nb)
    assert "train_loss" in out and "COCOMetric" in out
    assert "same detections after loading: True" in out


#: What a stored output must not show: warnings, Lightning's adverts and paths of the machine
#: that ran it.
NOISE = re.compile(r"Warning:|warnings\.warn|💡 Tip|/work/|/tmp/|/home/|/root/|/Users/|pytest-of-|\.venv/|site-packages")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[str(p.relative_to(REPO_ROOT)) for p in NOTEBOOKS])
def test_stored_outputs_show_pictures_and_no_noise(path):
    """A drawn Figure is stored as a picture, never as its bare ``<Figure size ...>`` text; no
    output carries a warning, an advert or a machine path."""
    nb = nbformat.read(path, as_version=4)
    for i, cell in enumerate(c for c in nb.cells if c.cell_type == "code"):
        for o in cell.outputs:
            data = o.get("data", {})
            text = o.get("text", "") + str(data.get("text/plain", "")) + str(data.get("text/html", ""))
            if "<Figure size" in text:
                assert "image/png" in data or "image/jpeg" in data, (
                    f"{path.name}, code cell {i}: a Figure stored as text, without its picture")
            found = NOISE.search(text)
            assert found is None, f"{path.name}, code cell {i}: {text[max(0, found.start() - 80):found.end() + 80]!r}"
