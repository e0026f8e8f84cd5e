"""Make the pictures of the docs pages and the README from a real export.

Trains with ``efficientdet-adapter train`` on a Roboflow YOLO export (by default the shared
pothole set, ``../shared/data/real-exports/pothole_yolov5``: Atikur Rahman Chitholian's pothole
images via Roboflow, ODbL v1.0), then writes to ``docs/images/``:

==========================  ==========================================================  =======
file                        what                                                         page
==========================  ==========================================================  =======
``check.png``               ``efficientdet-adapter check --png`` of the export          data
``curves.png``              the run folder's losses and AP per epoch                    training
``pr_curves.png``           the run folder's precision-recall curves                    training
``confusion_matrix.png``    the run folder's confusion matrix                           training
``prediction_grid.png``     ``show_preds`` of four valid images (ground truth beside)   prediction
``tiled_prediction.png``    ``predict --tile`` on the largest valid image               tiles
``pothole_predictions.png`` predictions on four valid images, for the README            README
==========================  ==========================================================  =======

and ``docs/images/pictures.json`` with the run's settings and its valid AP50 (the README quotes
it). Each PNG is scaled down and palette-compressed to stay under :data:`MAX_BYTES`. The data is
read, never copied into the repository. Run from the repository root (a few CPU minutes: the
training budget plus prediction)::

    python docs/make_pictures.py --time 10m --work /tmp/pictures      # train's defaults
    python docs/make_pictures.py --run runs/pothole --work /tmp/pictures  # a finished run
"""

from __future__ import annotations

import argparse
import io
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import torch

REPO_ROOT = Path(__file__).resolve().parents[1]
IMAGES = REPO_ROOT / "docs" / "images"
DEFAULT_DATA = REPO_ROOT.parent / "shared" / "data" / "real-exports" / "pothole_yolov5"
#: The most a committed picture may weigh.
MAX_BYTES = 150_000


def cli(*args: str) -> str:
    """Run ``efficientdet-adapter ARGS`` with this checkout first on the path; its stdout."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")]))}
    result = subprocess.run([sys.executable, "-m", "efficientdet_adapter", *args], env=env,
                            capture_output=True, text=True)
    if result.returncode != 0:
        raise SystemExit(f"efficientdet-adapter {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
    return result.stdout


def save_small(src: Path | bytes, name: str, max_side: int = 1000) -> Path:
    """Write ``src`` (a PNG file or its bytes) to docs/images/NAME, scaled to at most
    ``max_side`` pixels and palette-compressed until it is under :data:`MAX_BYTES`."""
    from PIL import Image

    img = Image.open(io.BytesIO(src) if isinstance(src, bytes) else src).convert("RGB")
    dst = IMAGES / name
    side = max_side
    while True:
        small = img.copy()
        small.thumbnail((side, side), Image.LANCZOS)
        buf = io.BytesIO()
        small.quantize(colors=256, method=Image.Quantize.MEDIANCUT).save(buf, format="PNG", optimize=True)
        if buf.tell() <= MAX_BYTES or side <= 300:
            break
        side = int(side * 0.85)
    dst.write_bytes(buf.getvalue())
    print(f"wrote {dst.relative_to(REPO_ROOT)} ({buf.tell() // 1000} kB, {small.size[0]}x{small.size[1]})")
    return dst


def figure_png(fig) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=fig.dpi)
    return buf.getvalue()


def ap50(metrics: dict[str, float]) -> float:
    [key] = [k for k in metrics if k.startswith("AP (IoU=0.50)")]
    return float(metrics[key])


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA, help="a Roboflow export folder")
    ap.add_argument("--work", type=Path, default=Path("pictures_work"), help="scratch folder (the run)")
    ap.add_argument("--time", default="10m", help="training budget (train --time)")
    ap.add_argument("--seed", default="0")
    ap.add_argument("--run", type=Path, default=None,
                    help="a finished run folder of this export to draw from, instead of training")
    args = ap.parse_args(argv)

    IMAGES.mkdir(parents=True, exist_ok=True)
    args.work.mkdir(parents=True, exist_ok=True)
    run = args.run or args.work / "run"
    if args.run is None:  # train's defaults but the budget and seed
        if run.exists():
            shutil.rmtree(run)
        cli("train", "--data", str(args.data), "--out", str(run), "--time", args.time,
            "--seed", args.seed, "--progress", "lines")
    saved = torch.load(run / "last.pt", map_location="cpu", weights_only=False)
    options = saved["extra"]["options"]
    img_size = options["img_size"] if isinstance(options["img_size"], int) else max(options["img_size"])

    check_png = args.work / "check.png"
    cli("check", "--data", str(args.data), "--img-size", str(img_size), "--png", str(check_png))
    save_small(check_png, "check.png")

    from efficientdet_adapter import Dataset, efficientdet, parsers
    from efficientdet_adapter.checkpoint import load_model
    from efficientdet_adapter.app.runs import evaluate
    from efficientdet_adapter.training.csvlog import read_metrics_csv
    from efficientdet_adapter.training.plots import plot_run

    # train's model.pt, or the best.pt of a run that only trained (bench/real_data.py --keep-runs)
    model_file = run / "model.pt" if (run / "model.pt").is_file() else run / "best.pt"
    model, class_map, config = load_model(model_file)
    parser = parsers.RoboflowParser(args.data)
    splits = dict(zip(parser.split_names, parser.parse()))
    valid = splits["valid"]
    metrics, valid_preds = evaluate(model, valid, show_pbar=False)
    plots = args.work / "plots"  # the run folder's three plots, drawn again from its files
    plots.mkdir(exist_ok=True)
    shutil.copy(run / "metrics.csv", plots / "metrics.csv")
    plot_run(plots, valid_preds, class_map)
    for name in ("curves.png", "pr_curves.png", "confusion_matrix.png"):
        save_small(plots / name, name)

    # four valid images with several potholes, in file order (the same ones every run)
    chosen = sorted((r for r in valid if len(r.bboxes) >= 2), key=lambda r: Path(r.filepath).name)[:4]
    preds = efficientdet.predict(model, Dataset(chosen, efficientdet.inference_tfm(model)),
                                 detection_threshold=0.4, keep_images=True, show_pbar=False)
    grid = efficientdet.show_preds(preds, ncols=2, cell_size=4.0)
    save_small(figure_png(grid), "prediction_grid.png")
    readme = efficientdet.show_preds(preds, ncols=4, show_ground_truth=False, cell_size=3.0)
    save_small(figure_png(readme), "pothole_predictions.png", max_side=1200)

    largest = max(valid, key=lambda r: (r.width * r.height, Path(r.filepath).name))
    tiled_out = args.work / "tiled"
    if tiled_out.exists():
        shutil.rmtree(tiled_out)
    cli("predict", "--checkpoint", str(model_file), "--out", str(tiled_out),
        "--tile", f"{img_size},{img_size}", "--overlap", "0.25", "--threshold", "0.4",
        str(largest.filepath))
    [tiled_png] = [p for p in sorted(tiled_out.iterdir()) if p.name == Path(largest.filepath).name]
    save_small(tiled_png, "tiled_prediction.png")

    facts = {
        "data": args.data.name, "images": {k: len(v) for k, v in splits.items()},
        "train": {"time_s": options.get("time"),
                  "epochs": len(read_metrics_csv(run / "metrics.csv")),
                  "img_size": img_size, "seed": options["seed"], "model": config.model_name,
                  "start": (saved["extra"].get("start") or {}).get("kind")},
        "valid_ap50": round(ap50(metrics), 3),
        "tiled_image": {"file": Path(largest.filepath).name, "size": [largest.width, largest.height]},
        "licence": "ODbL v1.0, Atikur Rahman Chitholian (Pothole dataset), via Roboflow",
    }
    (IMAGES / "pictures.json").write_text(json.dumps(facts, indent=1) + "\n", encoding="utf-8")
    print(json.dumps(facts))


if __name__ == "__main__":
    main()
