"""Runs IceVision 0.12.0's own tests (converted by ``convert.py``) against this library.

Two jobs, done before the converted ``tests/conftest.py`` loads:

* builds ``samples/`` (git-ignored), where IceVision's tests read their samples: the files of
  ``samples.json`` from the shared data (``../shared/data/icevision-samples``) and those of
  ``samples_extra/``; without the shared data every converted test skips and says why;
* applies ``exclusions.txt``, the one list of excluded tests, each with one of the reasons in
  :data:`REASONS`: a whole excluded file is not imported and shows as one skipped test, an
  excluded test is skipped with its reason. The ``network`` ones run when IceVision's trained
  fridge weights are in torch's hub cache.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
TESTS = HERE / "tests"
SAMPLES = HERE / "samples"
SHARED = HERE.parents[2] / "shared" / "data" / "icevision-samples"
FRIDGE_WEIGHTS = "fridge_tf_efficientdet_lite0.pt"

#: The only reasons a converted test may be excluded for.
REASONS = {
    "masks-keypoints": "masks and keypoints: EfficientDet predicts boxes",
    "fiftyone": "FiftyOne: not a dependency of this library",
    "removed-api": "the test itself uses an API that its library removed",
    "network": f"the network: IceVision's trained fridge weights ({FRIDGE_WEIGHTS}) are not in "
               "torch's hub cache",
}


def read_exclusions(path: Path = HERE / "exclusions.txt") -> dict[str, str]:
    """``test id -> reason`` from ``exclusions.txt`` (``id  | reason-key: why``; ``#`` comments).

    A test id is a file (``core/test_mask.py``), a test (``core/test_bbox.py::test_x``) or one
    parametrization (``...::test_x[a-b]``), relative to ``tests/``.
    """
    out: dict[str, str] = {}
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        test_id, _, why = (part.strip() for part in line.partition("|"))
        key, _, detail = (part.strip() for part in why.partition(":"))
        if key not in REASONS:
            raise pytest.UsageError(f"{path.name}:{number}: reason {key!r} is not one of "
                                    f"{sorted(REASONS)}")
        if not (TESTS / test_id.split("::")[0]).is_file():
            raise pytest.UsageError(f"{path.name}:{number}: no test file {test_id.split('::')[0]}")
        out[test_id] = f"{REASONS[key]} ({detail})" if detail else REASONS[key]
    return out


def _fridge_weights_cached() -> bool:
    import torch

    return (Path(torch.hub.get_dir()) / "checkpoints" / FRIDGE_WEIGHTS).is_file()


def build_samples() -> bool:
    """Make ``samples/`` once (atomically, so that parallel workers agree); ``False`` when the
    shared data is absent."""
    text = (HERE / "samples.json").read_text(encoding="utf-8")
    stamp = SAMPLES / ".samples.json"
    if stamp.is_file() and stamp.read_text(encoding="utf-8") == text:
        return True
    if not SHARED.is_dir():
        return False
    shutil.rmtree(SAMPLES, ignore_errors=True)  # absent, or built from another samples.json
    manifest = json.loads(text)["from_shared"]
    staging = Path(tempfile.mkdtemp(prefix=".samples-", dir=HERE))
    for target, source in manifest.items():
        (staging / target).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(SHARED / source, staging / target)
    shutil.copytree(HERE / "samples_extra", staging, dirs_exist_ok=True)
    (staging / ".samples.json").write_text(text, encoding="utf-8")
    try:
        os.rename(staging, SAMPLES)
    except OSError:  # another worker was first
        shutil.rmtree(staging, ignore_errors=True)
    return True


HAVE_SAMPLES = build_samples()
EXCLUSIONS = read_exclusions()


class ExcludedFile(pytest.File):
    """A test file excluded whole: not imported, shown as one skipped test."""

    reason = ""

    def collect(self):
        item = ExcludedItem.from_parent(self, name=self.path.name)
        item.reason = self.reason
        yield item


class ExcludedItem(pytest.Item):
    reason = ""

    def runtest(self) -> None:
        pytest.skip(self.reason)

    def reportinfo(self):
        return self.path, 0, self.name


def _excluded(test_id: str, network_ok: bool) -> str | None:
    reason = EXCLUSIONS.get(test_id)
    if reason is not None and reason.startswith(REASONS["network"][:20]) and network_ok:
        return None
    return reason


def pytest_configure(config) -> None:
    # IceVision's CI deselected these with -m "not cuda"; here they run (on the CPU too)
    config.addinivalue_line("markers", "cuda: IceVision's mark for tests it ran only on a GPU")


def pytest_pycollect_makemodule(module_path: Path, parent):
    try:
        relative = Path(module_path).resolve().relative_to(TESTS).as_posix()
    except ValueError:  # not one of the converted tests
        return None
    reason = _excluded(relative, network_ok=False)
    if reason is not None:
        node = ExcludedFile.from_parent(parent, path=Path(module_path))
        node.reason = reason
        return node
    return None


def pytest_collection_modifyitems(config, items) -> None:
    network_ok = None
    for item in items:
        try:
            relative = Path(item.path).resolve().relative_to(TESTS).as_posix()
        except ValueError:
            continue
        if not HAVE_SAMPLES:
            item.add_marker(pytest.mark.skip(reason=f"IceVision's samples come from {SHARED}, "
                                             "which is absent (clone with ../shared beside)"))
            continue
        name = item.name
        base = item.originalname if hasattr(item, "originalname") else name
        cls = f"{item.cls.__name__}::" if getattr(item, "cls", None) is not None else ""
        for test_id in (f"{relative}::{cls}{name}", f"{relative}::{cls}{base}"):
            if test_id not in EXCLUSIONS:
                continue
            if network_ok is None:
                network_ok = _fridge_weights_cached()
            reason = _excluded(test_id, network_ok)
            if reason is not None:
                item.add_marker(pytest.mark.skip(reason=reason))
            break
