"""bench/real_data.py: the statistics that decide a winner, and a smoke run on a tiny export."""

from __future__ import annotations

import importlib.util
import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

from efficientdet_adapter.demo import write_demo_dataset

ROOT = Path(__file__).resolve().parents[1]


def bench():
    spec = importlib.util.spec_from_file_location("real_data", ROOT / "bench" / "real_data.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("a, b, expected", [
    ([0.30, 0.32, 0.31], [0.20, 0.22, 0.21], "A wins"),       # 0.10 apart, spreads 0.01
    ([0.20, 0.22, 0.21], [0.30, 0.32, 0.31], "B wins"),
    ([0.30, 0.10, 0.20], [0.20, 0.22, 0.21], "no winner"),    # 0.01 apart, spread 0.10
    ([0.40, 0.20], [0.20, 0.18], "no winner"),               # 0.11 apart, spread 0.141
    ([0.40, 0.36], [0.20, 0.18], "A wins"),                  # 0.19 apart, spread 0.028
    ([0.4], [0.2], "no verdict (one seed)"),
    ([-1.0, -1.0], [0.2, 0.3], "no verdict (undefined)"),   # pycocotools' undefined
])
def test_verdict(a, b, expected):
    assert bench().verdict("A", a, "B", b) == expected


def test_mean_spread_leaves_undefined_values_out():
    mean_spread = bench().mean_spread
    assert mean_spread([0.2, 0.4, -1.0]) == pytest.approx((0.3, math.sqrt(0.02)))
    assert mean_spread([0.5]) == (0.5, 0.0)
    assert all(math.isnan(v) for v in mean_spread([-1.0, None]))


def test_summary_per_export_and_setting():
    b = bench()
    runs = [{"export": "e", "setting": s, "seed": seed, "epochs": 3, "valid_AP": ap,
             "valid_AP50": 2 * ap, "test_AP": ap, "test_AP50": None}
            for s, aps in (("x", [0.3, 0.31, 0.32]), ("y", [0.1, 0.12, 0.11]))
            for seed, ap in enumerate(aps)]
    summary = b.summarize(runs, ["x", "y"])["e"]
    assert summary["settings"]["x"]["valid_AP50"] == {"mean": 0.62, "spread": 0.02}
    assert summary["verdicts"]["x vs y"] == {"valid_AP": "x wins", "valid_AP50": "x wins",
                                             "test_AP": "x wins",
                                             "test_AP50": "no verdict (undefined)"}


@pytest.mark.slow
def test_smoke_run_on_a_tiny_export(tmp_path):
    root = tmp_path / "exports"
    write_demo_dataset(root / "shapes", num_images=20, seed=1)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "EFFICIENTDET_ADAPTER_OFFLINE": "1",
           "PYTHONPATH": str(ROOT)}
    tiny = "--img-size 128 --batch-size 4"
    proc = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "real_data.py"), "--root", str(root), "--time",
         "8s", "--seeds", "0", "1", "--setting", f"a={tiny}", "--setting",
         f"b={tiny} --lr 1e-2", "--threads", "1", "--markdown", str(tmp_path / "table.md")],
        capture_output=True, text=True, env=env, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads(proc.stdout)  # the whole stdout is one JSON object
    assert report["budget_s"] == 8 and report["seeds"] == [0, 1]
    assert [(r["setting"], r["seed"]) for r in report["runs"]] == [
        ("a", 0), ("a", 1), ("b", 0), ("b", 1)]
    for r in report["runs"]:
        assert r["epochs"] >= 1 and r["img_size"] == 128 and r["test_images"] == 2
        for n in ("valid_AP", "valid_AP50", "test_AP", "test_AP50"):
            assert 0 <= r[n] <= 1
    entry = report["summary"]["shapes"]
    assert set(entry["settings"]) == {"a", "b"}
    assert set(entry["verdicts"]["a vs b"].values()) <= {"a wins", "b wins", "no winner"}
    table = (tmp_path / "table.md").read_text()
    assert "--time 8 s per run, seeds [0, 1]" in table.splitlines()[0]
    assert "| shapes | a | " in table and "- shapes, a vs b: valid_AP " in table
