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

from efficientdet_adapter.app.demo import write_demo_dataset

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
         f"b={tiny} --lr 1e-2", "--threads", "1", "--markdown", str(tmp_path / "table.md"),
         "--results", str(tmp_path / "results.jsonl")],
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
    saved = [json.loads(line) for line in (tmp_path / "results.jsonl").read_text().splitlines()]
    assert [(r["setting"], r["seed"], r["budget_s"]) for r in saved] == [
        ("a", 0, 8.0), ("a", 1, 8.0), ("b", 0, 8.0), ("b", 1, 8.0)]
    assert all(r["machine"] and r["date"] and r["epochs"] >= 1 for r in saved)


# -- the results file: a bench goes on where it stopped -------------------------------------------
@pytest.fixture()
def fake_bench(tmp_path, monkeypatch):
    """The bench with its trainer replaced: each run returns numbers made from its key, and a
    run named in ``fail`` raises (a bench stopped in the middle)."""
    b = bench()
    root = tmp_path / "exports"
    for name in ("ex1", "ex2"):
        (root / name / "train").mkdir(parents=True)
    calls, fail = [], set()

    def run_one(export, setting, train_args, seed, budget_s, out, keep=None):
        calls.append((export.name, setting, seed))
        if (export.name, setting, seed) in fail:
            raise KeyboardInterrupt
        ap50 = {"defaults": 0.5, "ema": 0.6}[setting] + (0.1 if export.name == "ex2" else 0)
        return {"export": export.name, "setting": setting, "train_args": train_args,
                "seed": seed, "budget_s": budget_s, "epochs": 3, "valid_AP": ap50 / 2,
                "valid_AP50": ap50 + seed / 100, "test_AP": None, "test_AP50": None}

    monkeypatch.setattr(b, "run_one", run_one)
    monkeypatch.setattr(b, "_git_commit", lambda: "abc1234")
    args = ["--root", str(root), "--time", "5s", "--settings", "defaults", "ema",
            "--results", str(tmp_path / "results.jsonl")]
    return b, args, calls, fail, tmp_path / "results.jsonl"


def test_a_stopped_bench_keeps_its_runs_and_the_next_one_skips_them(fake_bench, capsys):
    b, args, calls, fail, results = fake_bench
    fail.add(("ex1", "ema", 1))  # the 4th of 8 runs: the session ends there
    with pytest.raises(KeyboardInterrupt):
        b.main(args)
    kept = b.read_results(results)
    assert [(r["export"], r["setting"], r["seed"]) for r in kept] == [
        ("ex1", "defaults", 0), ("ex1", "defaults", 1), ("ex1", "ema", 0)]
    assert all(r["commit"] == "abc1234" and r["budget_s"] == 5.0 and r["date"] for r in kept)
    fail.clear()
    calls.clear()
    assert b.main(args) == 0  # the next session: only the five runs not yet in the file
    assert calls == [("ex1", "ema", 1), ("ex2", "defaults", 0), ("ex2", "defaults", 1),
                     ("ex2", "ema", 0), ("ex2", "ema", 1)]
    assert len(b.read_results(results)) == 8
    report = json.loads(capsys.readouterr().out)  # the report holds all eight, skipped too
    assert len(report["runs"]) == 8
    assert report["summary"]["ex1"]["settings"]["ema"]["valid_AP50"]["mean"] == 0.605
    calls.clear()
    b.main(args)
    assert calls == []  # all done: nothing runs again
    b.main([*args[:2], "--time", "6s", "--settings", "ema", *args[-2:]])
    assert len(calls) == 4  # another budget is another run


def test_summary_prints_mean_valid_ap50_per_setting_across_exports(fake_bench, capsys):
    b, args, _, _, results = fake_bench
    b.main(args)
    capsys.readouterr()
    assert b.main(["--summary", "--results", str(results)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "mean valid AP50 (seeds) at --time 5 s"
    assert lines[1] == "| setting | ex1 | ex2 | mean |"
    # ema: ex1 (0.60 + 0.61) / 2 = 0.605, ex2 0.705, mean 0.655; best first
    assert lines[3] == "| ema | 0.605 (2) | 0.705 (2) | 0.655 |"
    assert lines[4] == "| defaults | 0.505 (2) | 0.605 (2) | 0.555 |"


def test_summary_marks_a_setting_missing_an_export():
    table = bench().summary_table([
        {"export": "a", "setting": "x", "seed": 0, "budget_s": 600, "valid_AP50": 0.4},
        {"export": "b", "setting": "x", "seed": 0, "budget_s": 600, "valid_AP50": 0.6},
        {"export": "a", "setting": "y", "seed": 0, "budget_s": 600, "valid_AP50": 0.3}])
    assert "| x | 0.400 (1) | 0.600 (1) | 0.500 |" in table
    assert "| y | 0.300 (1) | - | 0.300 (1/2 exports) |" in table
    assert bench().summary_table([]) == "no runs in the results file"


def test_the_settings_table_covers_the_recipe_and_every_setting_parses():
    b = bench()
    assert list(b.SETTINGS) == ["defaults", "384px", "512px", "aug-scale", "aug-full", "lite1",
                                "backbone-lr-0.1", "ema", "frozen-bn", "scale-ema"]
    opts = {name: b._train_options(Path("x"), args) for name, args in b.SETTINGS.items()}
    assert opts["384px"].img_size == 384 and opts["512px"].img_size == 512
    assert opts["aug-scale"].aug == "scale" and opts["aug-full"].aug == "full"
    assert opts["lite1"].model_name == "tf_efficientdet_lite1"
    assert opts["backbone-lr-0.1"].backbone_lr_mult == 0.1
    assert opts["ema"].ema and opts["frozen-bn"].freeze_bn
    assert opts["scale-ema"].ema and opts["scale-ema"].aug == "scale"
    assert opts["defaults"] == b._train_options(Path("x"), [])


def test_summary_counts_the_newest_revision_only_and_keys_carry_it():
    b = bench()
    runs = [{"export": "a", "setting": "x", "seed": 0, "budget_s": 600, "valid_AP50": 0.4},
            {"export": "a", "setting": "x", "seed": 0, "budget_s": 600, "valid_AP50": 0.6,
             "revision": 2}]
    assert "| x | 0.600 (1) | 0.600 |" in b.summary_table(runs)
    assert b.run_key("a", "x", [], 0, 600, 1) != b.run_key("a", "x", [], 0, 600, 2)
    assert b.run_key("a", "x", [], 0, 600) == b.run_key("a", "x", [], 0, 600.0, b.REVISION)
