"""Held-out accuracy of ``train`` settings on real exports, two seeds each, under a time budget.

For each export under ``--root`` (default: the shared real Roboflow exports: brain MRI, game
screenshots and the pothole set), each setting of :data:`SETTINGS` (or those named with
``--settings``, or given with ``--setting NAME=TRAIN_ARGS``) and each seed (``--seeds``, default
0 1), this trains as ``efficientdet-adapter train --data EXPORT --time BUDGET --seed SEED
TRAIN_ARGS`` would (``runs.train_model``: the budget's clock plans the steps, so the one-cycle
schedule completes), then scores the model as ``train`` and ``eval`` do (``runs.evaluate``:
pycocotools) on the export's ``valid`` split and on its ``test`` split.

Every finished run is appended at once to ``--results`` (default
``bench/results/real_data.jsonl`` in the repository, one JSON line per run: setting, its train
arguments, seed, export, budget, epochs, valid/test AP and AP50, git commit, machine, load, date),
and a run already there (same export, setting, train arguments, seed, budget and
:data:`REVISION`) is skipped: a bench stopped in one session goes on in the next. ``--summary`` prints, from that file only, the
mean valid AP50 of every setting per export and across the exports.

The report of the runs asked for (one JSON object on stdout; ``--markdown FILE`` also writes the
table) gives, per export and setting, the mean and spread (sample standard deviation over the
seeds) of AP and AP50 on both splits, and a verdict for every pair of settings and every one of
those four numbers: a setting *wins* only when its mean beats the other's by more than the larger
of the two spreads; otherwise there is no winner (and with one seed there is no verdict at all).
Progress goes to stderr.

    python bench/real_data.py --time 10m                       # every setting, 2 seeds, resumable
    python bench/real_data.py --summary                        # mean valid AP50 per setting
    python bench/real_data.py --time 10m --settings defaults ema --only pothole_yolov5
    python bench/real_data.py --time 20s --seeds 0 --setting "x=--lr 1e-2" --results /tmp/r.jsonl
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
DEFAULT_RESULTS = ROOT / "bench" / "results" / "real_data.jsonl"

#: The training loop's revision. A change that makes a step faster or slower fits another number
#: of epochs into a budget, so runs of an older revision are not compared with newer ones: they
#: stay in the results file, are run again, and ``--summary`` shows the newest revision only.
#: 1: up to 2026-12-07; 2: the CPU trains in channels_last (a step 1.01 s -> 0.65 s).
REVISION = 2

#: The recipe bench's settings: a name and the ``train`` arguments it adds to the defaults.
SETTINGS: dict[str, list[str]] = {
    "defaults": [],
    # sizes are multiples of 128 (EfficientDet's largest stride): 320 is not one
    "384px": ["--img-size", "384"],
    "512px": ["--img-size", "512"],
    "aug-scale": ["--aug", "scale"],
    "aug-full": ["--aug", "full"],  # IceVision's aug_tfms
    "lite1": ["--model", "tf_efficientdet_lite1"],
    "backbone-lr-0.1": ["--backbone-lr-mult", "0.1"],
    "ema": ["--ema"],
    "frozen-bn": ["--freeze-bn"],
    "scale-ema": ["--aug", "scale", "--ema"],  # the two best of the pothole runs of revision 2
}


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


# -- the results file ----------------------------------------------------------------------------
def run_key(export: str, setting: str, train_args: list[str], seed: int, budget_s: float,
            revision: int = REVISION) -> tuple:
    """What makes two runs the same run (the results file holds each once)."""
    return export, setting, " ".join(train_args), int(seed), float(budget_s), int(revision)


def read_results(path: Path) -> list[dict]:
    """The runs in a results file (none when it does not exist yet)."""
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()
            if line.strip()]


def append_result(path: Path, run: dict) -> None:
    """Add ``run`` as one JSON line (the file is rewritten atomically: never half a line)."""
    sys.path.insert(0, str(ROOT))
    from efficientdet_adapter.base.atomic import atomic_write_text

    path.parent.mkdir(parents=True, exist_ok=True)
    old = path.read_text(encoding="utf-8") if path.is_file() else ""
    if old and not old.endswith("\n"):
        old += "\n"
    atomic_write_text(path, old + json.dumps(run, sort_keys=True) + "\n")


def summary_table(runs: list[dict], budget_s: float | None = None) -> str:
    """Mean valid AP50 per setting: per export (mean over its seeds) and over the exports,
    best first; a setting missing an export is marked and ranked by what it has. Only the runs
    of the newest :data:`REVISION` in ``runs`` count."""
    newest = max((r.get("revision", 1) for r in runs), default=REVISION)
    runs = [r for r in runs if r.get("revision", 1) == newest]
    if budget_s is not None:
        runs = [r for r in runs if float(r["budget_s"]) == float(budget_s)]
    if not runs:
        return "no runs in the results file" + (f" at --time {budget_s:g} s" if budget_s else "")
    exports = list(dict.fromkeys(r["export"] for r in runs))
    rows = []
    for setting in dict.fromkeys(r["setting"] for r in runs):
        cells, means = [], []
        for export in exports:
            values = [r["valid_AP50"] for r in runs if r["setting"] == setting
                      and r["export"] == export and r.get("valid_AP50") is not None]
            m = statistics.fmean(values) if values else None
            cells.append("-" if m is None else f"{m:.3f} ({len(values)})")
            if m is not None:
                means.append(m)
        overall = statistics.fmean(means) if means else math.nan
        mark = "" if len(means) == len(exports) else f" ({len(means)}/{len(exports)} exports)"
        rows.append((overall, setting, cells, mark))
    rows.sort(key=lambda r: -r[0] if not math.isnan(r[0]) else math.inf)
    budgets = sorted({float(r["budget_s"]) for r in runs})
    lines = [f"mean valid AP50 (seeds) at --time {', '.join(f'{b:g}' for b in budgets)} s",
             "| setting | " + " | ".join(exports) + " | mean |",
             "| --- |" + " --- |" * (len(exports) + 1)]
    for overall, setting, cells, mark in rows:
        lines.append(f"| {setting} | " + " | ".join(cells) + f" | {overall:.3f}{mark} |")
    return "\n".join(lines)


def _git_commit() -> str | None:
    import subprocess

    try:
        return subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
                              capture_output=True, text=True, timeout=10).stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        return None


def _machine() -> str:
    import torch

    device = (torch.cuda.get_device_name(0) if torch.cuda.is_available() else
              f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs")
    return f"{device}, torch {torch.__version__} ({torch.get_num_threads()} threads)"


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
    from efficientdet_adapter.app.cli import build_parser
    from efficientdet_adapter.app.cli.training_flags import train_options as _options

    args = build_parser().parse_args(
        ["train", "--data", str(export), "--out", "unused", "--progress", "lines", *train_args])
    return _options(args)


def _scores(model, records) -> dict[str, float | None]:
    from efficientdet_adapter.app.runs import evaluate

    if not records:
        return {m: None for m in METRICS}
    metrics, _ = evaluate(model, records, show_pbar=False)
    return {m: round(metrics[key], 4) for m, key in METRICS.items()}


def run_one(export: Path, setting: str, train_args: list[str], seed: int, budget_s: float,
            out: Path, keep: Path | None = None) -> dict:
    """Train one (export, setting, seed) within ``budget_s`` and score valid and test; with
    ``keep``, the run folder stays as ``keep/EXPORT-SETTING-seedN`` (a run to draw from)."""
    import tempfile

    from efficientdet_adapter.app.runs import load_splits, train_model
    from efficientdet_adapter.training.csvlog import read_metrics_csv

    opts = _train_options(export, ["--time", str(budget_s), "--seed", str(seed), *train_args])
    train, valid, test, class_map, _ = load_splits(export, "auto", opts.seed)
    wall0 = time.perf_counter()
    kept = None if keep is None else keep / f"{export.name}-{setting}-seed{seed}"
    if kept is not None and kept.exists():
        import shutil

        shutil.rmtree(kept)
    folder = (contextlib.nullcontext(str(kept)) if kept is not None
              else tempfile.TemporaryDirectory(dir=out))
    with folder as run_dir, contextlib.redirect_stdout(sys.stderr):
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
    p.add_argument("--time", default="10m",
                   help="wall-clock budget per run, as train --time takes it (default: 10m)")
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1],
                   help="seeds per setting (default: 0 1)")
    p.add_argument("--settings", nargs="+", choices=list(SETTINGS), default=None,
                   metavar="NAME", help=f"settings of the table to run: {', '.join(SETTINGS)} "
                                        "(default: all of them)")
    p.add_argument("--setting", type=_setting, action="append", default=None,
                   metavar="NAME=TRAIN_ARGS",
                   help="a setting of your own (repeat to compare); replaces the table's")
    p.add_argument("--results", type=Path, default=DEFAULT_RESULTS,
                   help="the JSON-lines file runs are appended to and skipped from "
                        "(default: %(default)s)")
    p.add_argument("--summary", action="store_true",
                   help="print the mean valid AP50 per setting from --results and exit")
    p.add_argument("--threads", type=int, default=None,
                   help="PyTorch intra-op threads (default: PyTorch's choice)")
    p.add_argument("--json", type=Path, default=None, help="also write the JSON here")
    p.add_argument("--markdown", type=Path, default=None, help="also write the table here")
    p.add_argument("--keep-runs", type=Path, default=None, metavar="DIR",
                   help="keep each run folder in DIR (EXPORT-SETTING-seedN), e.g. for "
                        "docs/make_pictures.py --run")
    p.add_argument("--workdir", type=Path, default=None,
                   help="where run folders are made (and removed) (default: a temporary folder)")
    args = p.parse_args(argv)
    sys.path.insert(0, str(ROOT))
    if args.summary:
        print(summary_table(read_results(args.results)))
        return 0
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
    if args.setting:
        settings = dict(args.setting)
    else:
        settings = {name: SETTINGS[name] for name in (args.settings or SETTINGS)}
    exports = _exports(args.root, args.only)
    import tempfile

    done = {run_key(r["export"], r["setting"], r.get("train_args", []), r["seed"],
                    r["budget_s"], r.get("revision", 1)): r for r in read_results(args.results)}
    commit, machine = _git_commit(), _machine()
    runs = []
    with contextlib.ExitStack() as stack:
        work = args.workdir or Path(stack.enter_context(tempfile.TemporaryDirectory()))
        work.mkdir(parents=True, exist_ok=True)
        for e, (name, train_args), seed in itertools.product(exports, settings.items(),
                                                              args.seeds):
            key = run_key(e.name, name, train_args, seed, budget_s)
            if key in done:
                print(f"== {e.name} / {name} / seed {seed}: in {args.results}, skipped",
                      file=sys.stderr, flush=True)
                runs.append(done[key])
                continue
            load = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
            run = run_one(e, name, train_args, seed, budget_s, work, args.keep_runs)
            run.update({"commit": commit, "machine": machine, "load_1min": load,
                        "revision": REVISION,
                        "date": datetime.datetime.now(datetime.timezone.utc)
                        .strftime("%Y-%m-%d %H:%M UTC")})
            append_result(args.results, run)  # at once: a stopped bench keeps what it finished
            done[key] = run
            runs.append(run)
    report = {
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": machine, "budget_s": budget_s, "seeds": args.seeds,
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
