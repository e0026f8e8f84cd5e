"""The docs site builds with ``mkdocs build --strict`` (a broken link, a missing page or a
missing API object fails it), and the README stays a front door that links into it."""

from __future__ import annotations

import ast
import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
DOCS = REPO_ROOT / "docs"
README = REPO_ROOT / "README.md"
TEST_CMD = ('python3 -m venv .venv && .venv/bin/pip install -q -e ".[all,dev]" && '
            '.venv/bin/python -m pytest -n 2')

needs_mkdocs = pytest.mark.skipif(
    importlib.util.find_spec("mkdocs") is None or importlib.util.find_spec("mkdocstrings") is None,
    reason="needs the docs extra: pip install -e '.[docs]'",
)


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    """The site, built once by a real ``mkdocs build --strict`` subprocess."""
    out = tmp_path_factory.mktemp("site")
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1",
           "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")]))}
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(out)],
        cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, (result.stdout + result.stderr)[-4000:]
    return out


# (page, an object's anchor id that mkdocstrings writes for it)
API_OBJECTS = [
    ("api/package", "efficientdet_adapter"),
    ("api/data", "efficientdet_adapter.class_map.ClassMap"),
    ("api/data", "efficientdet_adapter.predictions.Prediction.with_threshold"),
    ("api/parsers", "efficientdet_adapter.parsers.roboflow.RoboflowParser"),
    ("api/parsers", "efficientdet_adapter.parsers.base.Parser"),
    ("api/parsers", "efficientdet_adapter.parsers.roboflow.write_export"),
    ("api/parsers", "efficientdet_adapter.parsers.coco.write_coco_results"),
    ("api/parsers", "efficientdet_adapter.parsers.formats.image_dir"),
    ("api/tfms", "efficientdet_adapter.dataset.Dataset"),
    ("api/efficientdet", "efficientdet_adapter.efficientdet.model.model"),
    ("api/efficientdet", "efficientdet_adapter.efficientdet.dataloaders.train_dl"),
    ("api/engines", "efficientdet_adapter.efficientdet.fastai.learner"),
    # ModelAdapter is built per Lightning package when read: its body and its builder
    ("api/engines", "efficientdet_adapter.engines.lightning.adapter.ModelAdapterMethods"),
    ("api/engines", "efficientdet_adapter.engines.lightning.adapter.model_adapter_class"),
    ("api/engines", "efficientdet_adapter.engines.core.RunRecorder"),
    ("api/training", "efficientdet_adapter.runs.TrainOptions"),
    ("api/metrics", "efficientdet_adapter.metrics.COCOMetric"),
    ("api/prediction", "efficientdet_adapter.efficientdet.prediction.predict"),
    ("api/prediction", "efficientdet_adapter.weights.export.export_onnx"),
    ("api/tools", "efficientdet_adapter.check.check_dataset"),
    ("api/compat", "efficientdet_adapter.compat"),
    ("api/errors", "efficientdet_adapter.errors.AdapterError"),
]


@needs_mkdocs
@pytest.mark.parametrize("page, anchor", API_OBJECTS)
def test_api_reference_has_the_object(site, page, anchor):
    html = (site / page / "index.html").read_text(encoding="utf-8")
    assert f'id="{anchor}"' in html, f"{anchor} is not documented on {page}"


@needs_mkdocs
def test_api_examples_render_as_code_and_task_pages_exist(site):
    # docstrings' "Example:" sections become highlighted code (docs/griffe_examples.py)
    html = (site / "api" / "efficientdet" / "index.html").read_text(encoding="utf-8")
    assert html.count('<span class="doc-section-title">Examples:</span>') >= 10
    assert '<span class="gp">&gt;&gt;&gt; </span>' in html  # a highlighted doctest prompt
    assert "Example:" not in html
    assert not (site / "griffe_examples.py").exists()  # build code is not published
    for page in ("install", "getting-started", "icevision", "data", "training", "weights",
                 "prediction", "tiles", "export", "command-line", "benchmarks", "architecture"):
        assert (site / page / "index.html").is_file(), page
    assert (site / "images" / "demo_predictions.png").is_file()


def test_install_page_keeps_the_version_matrix_marker():
    text = (DOCS / "install.md").read_text(encoding="utf-8")
    section = text.split("## Tested versions", 1)
    assert len(section) == 2, "docs/install.md lost its '## Tested versions' section"
    assert "<!-- version-matrix -->" in section[1].split("\n## ", 1)[0]


def test_readme_is_a_front_door():
    text = README.read_text(encoding="utf-8")
    assert len(text.splitlines()) <= 150
    assert TEST_CMD in text  # .ci/run greps it verbatim
    blocks = re.findall(r"^    (python3 -m venv .*)$", text, flags=re.MULTILINE)
    assert blocks[1] == TEST_CMD and blocks[0].endswith("efficientdet-adapter demo --out demo_out")
    assert "import pytorch_lightning as pl" in text and "import lightning as L" in text
    assert "from efficientdet_adapter.all import *" in text
    picture = re.search(r"!\[[^\]]*\]\(([^)]+\.png)\)", text)
    assert picture, "README has no picture"
    png = REPO_ROOT / picture.group(1)
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size < 300_000
    # pages are named by path, not linked: a relative link breaks wherever the README is shown
    # outside the repository (a package index); the picture is the one relative path left
    assert re.findall(r"[^!]\[[^\]]*\]\((?!https://)[^)]+\)", text) == []
    pages = re.findall(r"`(docs/[^`#]+\.md)`", text)
    assert len(pages) >= 12
    for page in pages:
        assert (REPO_ROOT / page).is_file(), f"README names a missing page: {page}"


def _layers() -> list[tuple[str, list[str]]]:
    sys.path.insert(0, str(REPO_ROOT / "tests"))
    try:
        import test_layers
    finally:
        sys.path.pop(0)
    return [(name, list(mods)) for name, mods in test_layers.LAYERS]


def _modules_cell(name: str, mods: list[str]) -> str:
    if name == "icevision faces":  # about 90 thin modules: counted, not listed
        return (f"{len(mods)} modules at IceVision 0.12's paths (`core`, `data`, "
                "`models.ross.efficientdet`...; `tests/fixtures/icevision_0_12_modules.json`)")
    return ", ".join(f"`{m or '(the package)'}`" for m in mods)


def layer_table(layers: list[tuple[str, list[str]]]) -> str:
    """The rows of docs/architecture.md's layer table, written from test_layers.LAYERS."""
    return "\n".join(f"| {i} | {name} | {_modules_cell(name, mods)} |"
                     for i, (name, mods) in enumerate(layers, 1))


_ROWS = re.compile(r"^\| \d+ \| [^|]+ \| .+ \|\n?", flags=re.MULTILINE)


def test_architecture_page_lists_the_layers_the_tests_guard():
    """docs/architecture.md's layer table is test_layers.LAYERS, row for row."""
    page = (DOCS / "architecture.md").read_text(encoding="utf-8")
    documented = "".join(_ROWS.findall(page)).rstrip("\n")
    assert documented == layer_table(_layers()), (
        "docs/architecture.md's layer table differs from tests/test_layers.py's LAYERS; "
        "rewrite it with `python tests/test_docs.py`")


if __name__ == "__main__":  # rewrite the layer table of docs/architecture.md from LAYERS
    page_path = DOCS / "architecture.md"
    page = page_path.read_text(encoding="utf-8")
    rows = _ROWS.findall(page)
    start = page.index(rows[0])
    end = start + len("".join(rows))
    page_path.write_text(page[:start] + layer_table(_layers()) + "\n" + page[end:], encoding="utf-8")
    print(f"wrote {page_path}")
