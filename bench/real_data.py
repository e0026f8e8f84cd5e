"""Held-out accuracy of ``train`` settings on real exports, three seeds each, under a time budget.

For each export under ``--root`` (default: the shared real Roboflow exports: brain MRI, game
screenshots and the pothole set), each setting (``--setting NAME=TRAIN_ARGS``, e.g.
``--setting "auto=--img-size auto --anchors auto"``; default: ``defaults=``, the CLI's defaults)
and each seed (``--seeds``, default 0 1 2), this trains as ``efficientdet-adapter train --data
EXPORT --time BUDGET --seed SEED TRAIN_ARGS`` would (``runs.train_model``: the epochs are fitted
to the wall-clock ``--time`` from measured steps, so the one-cycle schedule completes), then
scores the model as ``train`` and ``eval`` do (``runs.evaluate``: pycocotools) on the export's
``valid`` split and on its ``test`` split.

The report (one JSON object on stdout; ``--markdown FILE`` also writes the table) gives, per
export and setting, the mean and spread (sample standard deviation over the seeds) of AP and
AP50 on both splits, and a verdict for every pair of settings and every one of those four
numbers: a setting *wins* only when its mean beats the other's by more than the larger of the
two spreads; otherwise there is no winner (and with one seed there is no verdict at all). The
machine, the date and the budget head the report. Progress goes to stderr.

    python bench/real_data.py --time 10m
    python bench/real_data.py --time 30m --only pothole_yolov5 \\
        --setting defaults= --setting "flip=--aug flip" --setting "full=--aug full"
    python bench/real_data.py --time 20s --seeds 0 --only metin2_game_tfcsv   # a smoke run
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import itertools
import json
import math
import os
import platform
import shlex
import statistics
import sys
import time
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_EXPORTS = ROOT.parent / "shared" / "data" / "real-exports"
METRICS = {"AP": "AP (IoU=0.50:0.95) area=all", "AP50": "AP (IoU=0.50) area=all"}
NUMBERS = [f"{split}_{m}" for split in ("valid", "test") for m in METRICS]


# -- statistics --------------------------------------------------------------------------------
def mean_spread(values: list[float]) -> tuple[float, float]:
    """Mean and sample standard deviation (0 for a single value) of the defined ``values``
    (pycocotools' -1 = undefined is left out); ``(nan, nan)`` when none is defined."""
    ok = [v for v in values if v is not None and v > -1]
    if not ok:
        return math.nan, math.nan
    return statistics.fmean(ok), (statistics.stdev(ok) if len(ok) > 1 else 0.0)


def verdict(name_a: str, a: list[float], name_b: str, b: list[float]) -> str:
    """Who wins on these per-seed numbers: a mean that beats the other's by more than the larger
    of the two spreads; ``"no winner"`` otherwise; ``"no verdict (one seed)"`` with one seed.

    Example:
        >>> verdict("A", [0.30, 0.32, 0.31], "B", [0.20, 0.22, 0.21])
        'A wins'
        >>> verdict("A", [0.30, 0.10, 0.20], "B", [0.20, 0.22, 0.21])
        'no winner'
    """
    (ma, sa), (mb, sb) = mean_spread(a), mean_spread(b)
    if math.isnan(ma) or math.isnan(mb):
        return "no verdict (undefined)"
    if min(len(a), len(b)) < 2:
        return "no verdict (one seed)"
    spread = max(sa, sb)
    if ma - mb > spread:
        return f"{name_a} wins"
    if mb - ma > spread:
        return f"{name_b} wins"
    return "no winner"


def summarize(runs: list[dict], settings: list[str]) -> dict:
    """Per export: per setting the mean/spread of every number, and the pairwise verdicts."""
    out: dict = {}
    for export in dict.fromkeys(r["export"] for r in runs):
        mine = [r for r in runs if r["export"] == export]
        per_setting = {}
        for s in settings:
            rows = [r for r in mine if r["setting"] == s]
            if rows:
                per_setting[s] = {"seeds": [r["seed"] for r in rows],
                                  "epochs": [r["epochs"] for r in rows],
                                  **{n: dict(zip(("mean", "spread"),
                                                 (round(x, 4) for x in mean_spread(
                                                     [r[n] for r in rows]))))
                                     for n in NUMBERS}}
        verdicts = {}
        for a, b in itertools.combinations(per_setting, 2):
            verdicts[f"{a} vs {b}"] = {
                n: verdict(a, [r[n] for r in mine if r["setting"] == a],
                           b, [r[n] for r in mine if r["setting"] == b]) for n in NUMBERS}
        out[export] = {"settings": per_setting, "verdicts": verdicts}
    return out


def markdown(report: dict) -> str:
    """The summary as a Markdown table (mean ± spread), then the verdicts."""
    head = (f"{report['date']}, {report['machine']}, --time {report['budget_s']:g} s per run, "
            f"seeds {report['seeds']}")
    lines = [head, "", "| export | setting | epochs | valid AP | valid AP50 | test AP | "
             "test AP50 |", "| --- | --- | --- | --- | --- | --- | --- |"]
    for export, entry in report["summary"].items():
        for s, row in entry["settings"].items():
            cells = [f"{row[n]['mean']:.3f} ± {row[n]['spread']:.3f}" for n in NUMBERS]
            lines.append(f"| {export} | {s} | {'/'.join(map(str, row['epochs']))} | "
                         + " | ".join(cells) + " |")
    lines.append("")
    for export, entry in report["summary"].items():
        for pair, v in entry["verdicts"].items():
            lines.append(f"- {export}, {pair}: " + "; ".join(f"{n} {w}" for n, w in v.items()))
    return "\n".join(lines)


# -- runs --------------------------------------------------------------------------------------
def _exports(root: Path, only: list[str] | None) -> list[Path]:
    if not root.is_dir():
        raise SystemExit(f"--root {root}: no such folder; pass the folder that holds the exports "
                         "(e.g. ../shared/data/real-exports)")
    found = sorted(p for p in root.iterdir() if p.is_dir() and (p / "train").is_dir())
    if only:
        missing = sorted(set(only) - {p.name for p in found})
        if missing:
            raise SystemExit(f"--only {missing}: not export folders in {root}")
        found = [p for p in found if p.name in set(only)]
    if not found:
        raise SystemExit(f"--root {root}: no export folders with a train/ split inside")
    return found


def _setting(text: str) -> tuple[str, list[str]]:
    name, sep, args = text.partition("=")
    if not sep or not name:
        raise argparse.ArgumentTypeError(f"{text!r}: give NAME=TRAIN_ARGS (e.g. 'flip=--aug "
                                         "flip', or 'defaults=' for the CLI's defaults)")
    return name, shlex.split(args)


def _train_options(export: Path, train_args: list[str]):
    """The ``TrainOptions`` that ``efficientdet-adapter train --data EXPORT ARGS`` would use."""
    from efficientdet_adapter.cli import _options, build_parser

    args = build_parser().parse_args(
        ["train", "--data", str(export), "--out", "unused", "--progress", "lines", *train_args])
    return _options(args)


def _scores(model, records) -> dict[str, float | None]:
    from efficientdet_adapter.runs import evaluate

    if not records:
        return {m: None for m in METRICS}
    metrics, _ = evaluate(model, records, show_pbar=False)
    return {m: round(metrics[key], 4) for m, key in METRICS.items()}


def run_one(export: Path, setting: str, train_args: list[str], seed: int, budget_s: float,
            out: Path) -> dict:
    """Train one (export, setting, seed) within ``budget_s`` and score valid and test."""
    import tempfile

    from efficientdet_adapter.runs import load_splits, train_model
    from efficientdet_adapter.training.csvlog import read_metrics_csv

    opts = _train_options(export, ["--time", str(budget_s), "--seed", str(seed), *train_args])
    train, valid, test, class_map, _ = load_splits(export, "auto", opts.seed)
    wall0 = time.perf_counter()
    with tempfile.TemporaryDirectory(dir=out) as run_dir, contextlib.redirect_stdout(sys.stderr):
        print(f"== {export.name} / {setting} / seed {seed}", flush=True)
        model = train_model(train, valid, class_map, opts, out=run_dir)
        train_s = time.perf_counter() - wall0
        epochs_run = len(read_metrics_csv(Path(run_dir) / "metrics.csv"))
        valid_scores, test_scores = _scores(model, valid), _scores(model, test)
    return {
        "export": export.name, "setting": setting, "train_args": train_args, "seed": seed,
        "train_images": len(train), "valid_images": len(valid), "test_images": len(test),
        "img_size": opts.img_size, "anchor_settings": opts.anchor_settings, "aug": opts.aug,
        "epochs": opts.epochs, "epochs_run": epochs_run, "budget_s": budget_s,
        "train_wall_s": round(train_s, 1),
        "total_wall_s": round(time.perf_counter() - wall0, 1),
        **{f"valid_{m}": v for m, v in valid_scores.items()},
        **{f"test_{m}": v for m, v in test_scores.items()},
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--root", type=Path, default=DEFAULT_EXPORTS,
                   help="folder of export folders (default: %(default)s)")
    p.add_argument("--only", nargs="*", default=None, help="export folder names to run")
    p.add_argument("--time", required=True,
                   help="wall-clock budget per run, as train --time takes it (600, 10m, 1h)")
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2],
                   help="seeds per setting (default: 0 1 2)")
    p.add_argument("--setting", type=_setting, action="append", default=None,
                   metavar="NAME=TRAIN_ARGS",
                   help="a named set of train options; repeat to compare (default: defaults=)")
    p.add_argument("--threads", type=int, default=None,
                   help="PyTorch intra-op threads (default: PyTorch's choice)")
    p.add_argument("--json", type=Path, default=None, help="also write the JSON here")
    p.add_argument("--markdown", type=Path, default=None, help="also write the table here")
    p.add_argument("--workdir", type=Path, default=None,
                   help="where run folders are made (and removed) (default: a temporary folder)")
    args = p.parse_args(argv)
    sys.path.insert(0, str(ROOT))
    import torch

    from efficientdet_adapter.training.budget import parse_duration

    try:
        budget_s = parse_duration(args.time)
    except ValueError as e:
        p.error(f"--time: {e}")
    warnings.filterwarnings("ignore")
    if args.threads:
        torch.set_num_threads(args.threads)
    os.environ.setdefault("EFFICIENTDET_ADAPTER_OFFLINE", "1")
    settings = dict(args.setting or [("defaults", [])])
    exports = _exports(args.root, args.only)
    import tempfile

    with contextlib.ExitStack() as stack:
        work = args.workdir or Path(stack.enter_context(tempfile.TemporaryDirectory()))
        work.mkdir(parents=True, exist_ok=True)
        runs = [run_one(e, name, train_args, seed, budget_s, work)
                for e in exports for name, train_args in settings.items() for seed in args.seeds]
    device = (torch.cuda.get_device_name(0) if torch.cuda.is_available() else
              f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs")
    report = {
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": f"{device}, torch {torch.__version__} ({torch.get_num_threads()} threads)",
        "budget_s": budget_s, "seeds": args.seeds,
        "settings": {k: " ".join(v) for k, v in settings.items()},
        "runs": runs, "summary": summarize(runs, list(settings)),
    }
    text = json.dumps(report, indent=1)
    print(text)
    if args.json is not None:
        args.json.write_text(text + "\n", encoding="utf-8")
    if args.markdown is not None:
        args.markdown.write_text(markdown(report) + "\n", encoding="utf-8")
    print(markdown(report), file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
