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
    ("api/data", "efficientdet_adapter.records.class_map.ClassMap"),
    ("api/data", "efficientdet_adapter.records.predictions.Prediction.with_threshold"),
    ("api/parsers", "efficientdet_adapter.parsers.roboflow.RoboflowParser"),
    ("api/parsers", "efficientdet_adapter.parsers.base.Parser"),
    ("api/parsers", "efficientdet_adapter.parsers.roboflow.write_export"),
    ("api/parsers", "efficientdet_adapter.parsers.coco.write_coco_results"),
    ("api/parsers", "efficientdet_adapter.parsers.formats.image_dir"),
    ("api/tfms", "efficientdet_adapter.records.dataset.Dataset"),
    ("api/efficientdet", "efficientdet_adapter.model.model.model"),
    ("api/efficientdet", "efficientdet_adapter.loop.dataloaders.train_dl"),
    ("api/engines", "efficientdet_adapter.efficientdet.fastai.learner"),
    # ModelAdapter is built per Lightning package when read: its body and its builder
    ("api/engines", "efficientdet_adapter.engines.lightning.adapter.ModelAdapterMethods"),
    ("api/engines", "efficientdet_adapter.engines.lightning.adapter.model_adapter_class"),
    ("api/engines", "efficientdet_adapter.engines.core.RunRecorder"),
    ("api/training", "efficientdet_adapter.app.runs.TrainOptions"),
    ("api/metrics", "efficientdet_adapter.metrics.COCOMetric"),
    ("api/prediction", "efficientdet_adapter.inference.prediction.predict"),
    ("api/prediction", "efficientdet_adapter.checkpoints.export.export_onnx"),
    ("api/tools", "efficientdet_adapter.app.check.check_dataset"),
    ("api/compat", "efficientdet_adapter.compat"),
    ("api/errors", "efficientdet_adapter.base.errors.AdapterError"),
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


# (page, the pictures of docs/make_pictures.py it shows)
PICTURES = [
    ("docs/training.md", ["curves.png", "pr_curves.png", "confusion_matrix.png"]),
    ("docs/prediction.md", ["prediction_grid.png"]),
    ("docs/tiles.md", ["tiled_prediction.png"]),
    ("docs/data.md", ["check.png"]),
    ("README.md", ["pothole_predictions.png"]),
]


@pytest.mark.parametrize("page, pictures", PICTURES)
def test_pages_show_their_pictures(page, pictures):
    text = (REPO_ROOT / page).read_text(encoding="utf-8")
    shown = re.findall(r"!\[[^\]]+\]\((?:docs/)?images/([\w.]+\.png)\)", text)
    for name in pictures:
        assert name in shown, f"{page} does not show {name}"
        png = DOCS / "images" / name
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", name
        assert png.stat().st_size < 150_000, f"{name}: {png.stat().st_size} bytes"


#: What only a contributor needs: storing notebooks again and their code hash (the pages may name
#: docs/make_pictures.py, which made their pictures).
MAINTAINER_NOTES = ("EFFICIENTDET_ADAPTER_STORE_NOTEBOOKS", "tests/notebooks/kernel.py", "code_sha256")


def test_contributor_notes_live_in_contributing_not_on_user_pages():
    contributing = (REPO_ROOT / "CONTRIBUTING.md").read_text(encoding="utf-8")
    for note in ("EFFICIENTDET_ADAPTER_STORE_NOTEBOOKS", "tests/notebooks/kernel.py",
                 "docs/make_pictures.py", "docs/sphinx_roles.py", "tests/test_doc_blocks.py"):
        assert note in contributing, f"CONTRIBUTING.md lost {note}"
        if "/" in note:
            assert (REPO_ROOT / note).is_file(), f"CONTRIBUTING.md names a missing file: {note}"
    for page in [README, *sorted(DOCS.glob("*.md"))]:
        text = page.read_text(encoding="utf-8")
        found = [note for note in MAINTAINER_NOTES if note in text]
        assert found == [], f"{page.name} holds contributor notes {found}: move them to CONTRIBUTING.md"
    assert "`CONTRIBUTING.md`" in README.read_text(encoding="utf-8")


def test_readme_real_data_picture_states_its_score_and_licence():
    import json

    facts = json.loads((DOCS / "images" / "pictures.json").read_text(encoding="utf-8"))
    text = README.read_text(encoding="utf-8")
    assert f"AP50 {facts['valid_ap50']:.2f}" in text
    assert "Atikur Rahman Chitholian" in text and "ODbL v1.0" in text
    assert facts["images"]["valid"] == 133 and facts["train"]["img_size"] == 256


def _layers() -> list[tuple[str, list[str]]]:
    """(folder, its modules) for each layer of test_layers.LAYERS, lowest first, then the faces."""
    sys.path.insert(0, str(REPO_ROOT / "tests"))
    try:
        import test_layers
    finally:
        sys.path.pop(0)
    modules = test_layers._modules()
    rows = []
    for folder in test_layers.LAYERS:
        prefix = folder.replace("/", ".") + "."
        mods = sorted(m.removeprefix(prefix) if m != prefix[:-1] else "(package)" for m in modules
                      if test_layers._folder(m, modules) == folder
                      and not test_layers._is_face(m, modules))
        rows.append((f"{folder}/", mods))
    rows.append(("faces", sorted(m for m in modules if test_layers._is_face(m, modules))))
    return rows


def _modules_cell(name: str, mods: list[str]) -> str:
    if name == "faces":  # about 100 thin modules: counted, not listed
        return (f"{len(mods)} modules: the root's (`all`, `compat`, `checkpoint`...), "
                "`efficientdet/` (the verbs), `visualize/`, and IceVision 0.12's other paths "
                "(`core`, `data`, `models.ross.efficientdet`...; "
                "`tests/fixtures/icevision_0_12_modules.json`)")
    return ", ".join(f"`{m}`" for m in mods)


def layer_table(layers: list[tuple[str, list[str]]]) -> str:
    """The rows of docs/architecture.md's layer table, written from test_layers.LAYERS."""
    return "\n".join(f"| {i} | {name} | {_modules_cell(name, mods)} |"
                     for i, (name, mods) in enumerate(layers, 1))


_ROWS = re.compile(r"^\| \d+ \| [^|]+ \| .+ \|\n?", flags=re.MULTILINE)


def _target(obj: object) -> str | None:
    """Where the API reference documents ``obj`` (its defining module's path), if anywhere."""
    import inspect

    documented = set(re.findall(r"^::: ([\w.]+)", "\n".join(
        p.read_text(encoding="utf-8") for p in sorted((DOCS / "api").glob("*.md"))), re.MULTILINE))
    if inspect.ismodule(obj):
        return obj.__name__ if obj.__name__ in documented else None
    if (inspect.isclass(obj) or inspect.isfunction(obj)) and obj.__module__ in documented:
        return f"{obj.__module__}.{obj.__qualname__}"
    return None


def names_table() -> str:
    """The rows of docs/api/package.md's table: every top-level name, linked to its reference,
    with the first line of its docstring."""
    import inspect

    sys.path.insert(0, str(REPO_ROOT))
    import efficientdet_adapter as pkg

    rows = []
    for name in sorted(pkg.__all__, key=str.lower):
        obj = getattr(pkg, name)
        target = _target(obj)
        first = " ".join((inspect.getdoc(obj) or "").strip().split("\n\n")[0].split())
        if inspect.ismodule(obj) or inspect.isclass(obj) or inspect.isfunction(obj):
            doc = first.split(". ")[0].rstrip(".") + "."
        else:
            doc = f"the constant `{obj!r}`"
        shown = f"[`{name}`][{target}]" if target else f"`{name}`"
        doc = doc.replace("|", "\\|")
        rows.append(f"| {shown} | {doc} |")
    return "\n".join(rows)


_NAME_ROWS = re.compile(r"^\| (?:\[`|`)\w+.*\|\n?", flags=re.MULTILINE)


def test_package_page_lists_every_top_level_name():
    page = (DOCS / "api" / "package.md").read_text(encoding="utf-8")
    documented = "".join(_NAME_ROWS.findall(page)).rstrip("\n")
    assert documented == names_table(), (
        "docs/api/package.md's table differs from efficientdet_adapter.__all__; "
        "rewrite it with `python tests/test_docs.py`")


def test_every_top_level_name_says_what_it_is():
    """No row of the names table is a bare ``.``: each name has a docstring's first line."""
    bare = [row.split(" | ")[0].lstrip("| ") for row in names_table().splitlines()
            if row.endswith("| . |")]
    assert bare == [], f"top-level names without a docstring: {bare}"


ROLE = re.compile(r":(class|func|meth|mod|attr|data|exc|obj):`")


@needs_mkdocs
def test_site_shows_links_not_sphinx_roles(site):
    """Docstrings' cross-references render as links (autorefs), never as literal roles."""
    pages = sorted(site.rglob("*.html"))
    for page in pages:
        found = ROLE.search(page.read_text(encoding="utf-8"))
        assert found is None, f"{page.relative_to(site)} shows a literal Sphinx role"
    html = (site / "api" / "package" / "index.html").read_text(encoding="utf-8")
    assert 'href="../data/#efficientdet_adapter.records.record.Record"' in html
    assert html.count('class="autorefs autorefs-internal"') >= 40


@needs_mkdocs
def test_returns_sections_render_as_one_value(site):
    """A Returns or Yields section whose text wraps over lines is one row of the reference, not
    a row per line (15 sections were split mid-sentence before ``returns_multiple_items``)."""
    split = []
    for page in sorted(site.rglob("*.html")):
        html = page.read_text(encoding="utf-8")
        for m in re.finditer(r'doc-section-title">(?:Returns|Yields):</span>.*?</table>', html, re.S):
            if m.group(0).count('<tr class="doc-section-item">') > 1:
                split.append(str(page.relative_to(site)))
    assert split == []
    html = (site / "api" / "prediction" / "index.html").read_text(encoding="utf-8")
    text = re.sub(r"<[^>]+>", "", html)
    assert re.search(r"The metadata, keyed model_name \(str\).*?\(dict\[int, int\] or None\)\.", text, re.S)


def test_docstrings_hold_no_sphinx_roles():
    left = [f"{p.relative_to(REPO_ROOT)}:{i}" for p in sorted((REPO_ROOT / "efficientdet_adapter").rglob("*.py"))
            for i, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1)
            if ROLE.search(line)]  # docstrings, and #: comments too
    assert not left, f"Sphinx roles left (run docs/sphinx_roles.py): {left[:5]}"


@needs_mkdocs
def test_strict_build_fails_on_an_unresolved_reference(tmp_path):
    """The site's mkdocstrings settings on a one-module package whose docstring links nowhere."""
    import yaml

    config = yaml.safe_load((REPO_ROOT / "mkdocs.yml").read_text(encoding="utf-8"))
    python = config["plugins"][1]["mkdocstrings"]["handlers"]["python"]
    python["paths"] = [str(tmp_path)]
    python["options"]["extensions"] = [str(DOCS / "griffe_examples.py")]
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "index.md").write_text("# X\n\n::: linkpkg\n", encoding="utf-8")
    (tmp_path / "linkpkg.py").write_text(
        '"""A module."""\n\n\ndef f():\n    """Calls [`g`][linkpkg.g]."""\n', encoding="utf-8")
    small = {"site_name": "x", "docs_dir": "docs", "strict": True,
             "plugins": [config["plugins"][1]], "markdown_extensions": config["markdown_extensions"]}
    (tmp_path / "mkdocs.yml").write_text(yaml.safe_dump(small), encoding="utf-8")
    result = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict"], cwd=tmp_path,
                            env={**os.environ, "NO_MKDOCS_2_WARNING": "1"}, capture_output=True,
                            text=True, timeout=300)
    assert result.returncode == 1
    assert "Could not find cross-reference target 'linkpkg.g'" in result.stdout + result.stderr


def test_architecture_page_lists_the_layers_the_tests_guard():
    """docs/architecture.md's layer table is test_layers.LAYERS, row for row."""
    page = (DOCS / "architecture.md").read_text(encoding="utf-8")
    documented = "".join(_ROWS.findall(page)).rstrip("\n")
    assert documented == layer_table(_layers()), (
        "docs/architecture.md's layer table differs from tests/test_layers.py's LAYERS; "
        "rewrite it with `python tests/test_docs.py`")


if __name__ == "__main__":  # rewrite the generated tables: architecture.md's layers, package.md's names
    page_path = DOCS / "architecture.md"
    page = page_path.read_text(encoding="utf-8")
    rows = _ROWS.findall(page)
    start = page.index(rows[0])
    end = start + len("".join(rows))
    page_path.write_text(page[:start] + layer_table(_layers()) + "\n" + page[end:], encoding="utf-8")
    print(f"wrote {page_path}")
    names_path = DOCS / "api" / "package.md"
    names_page = names_path.read_text(encoding="utf-8")
    rows = _NAME_ROWS.findall(names_page)
    start = names_page.index(rows[0])
    end = start + len("".join(rows))
    names_path.write_text(names_page[:start] + names_table() + "\n" + names_page[end:], encoding="utf-8")
    print(f"wrote {names_path}")
