"""The example script runs end to end, in a real subprocess, on tiny settings (the notebooks run
in a Jupyter kernel: tests/notebooks/)."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

from PIL import Image

REPO_ROOT = Path(__file__).resolve().parents[1]


def _run(args: list[str], cwd: Path, timeout: int = 600) -> subprocess.CompletedProcess:
    env = {"OMP_NUM_THREADS": "1", "PATH": "/usr/bin:/bin", "MPLBACKEND": "Agg", "HOME": str(cwd),
           # the package from this checkout even where it is not installed (a GPU machine
           # running the source tree)
           "PYTHONPATH": str(REPO_ROOT)}
    return subprocess.run(
        [sys.executable, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout
    )


def test_pets_example_runs_icevision_code_on_pets_layout(tmp_path):
    result = _run(
        [str(REPO_ROOT / "examples" / "pets.py"), "--demo", str(tmp_path / "pets"), "--num-images", "20",
         "--epochs", "1", "--size", "128", "--presize", "160", "--batch-size", "4",
         "--num-workers", "0", "--save-path", str(tmp_path / "results.png")],
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    # The PETS layout really was written and parsed: 20 XML files beside 20 JPEGs.
    assert len(list((tmp_path / "pets" / "annotations" / "xmls").glob("*.xml"))) == 20
    assert len(list((tmp_path / "pets" / "images").glob("*.jpg"))) == 20
    final = ast.literal_eval(result.stdout.strip().splitlines()[-1])
    assert {"train_loss", "valid_loss", "COCOMetric"} <= set(final)
    assert all(v == v for v in final.values())  # no NaN
    assert 0.0 <= final["COCOMetric"] <= 1.0
    width, height = Image.open(tmp_path / "results.png").size
    assert width > 200 and height > 100

