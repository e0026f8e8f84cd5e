"""The ``efficientdet-adapter`` command (also ``python -m efficientdet_adapter``).

Subcommands: ``train``, ``eval``, ``predict``, ``export`` and ``demo`` (writes the synthetic demo
dataset, trains on it, scores held-out images). ``efficientdet-adapter <command> --help`` lists
each one's options. User errors (a missing file, a malformed annotation, a checkpoint that does not
fit) print one line and exit with status 2.

Example:
    $ efficientdet-adapter demo --out runs/demo
    $ efficientdet-adapter train --data shapes.v1i.coco.zip --epochs 12 --out runs/shapes
    $ efficientdet-adapter predict photos/ --checkpoint runs/shapes/model.pt --out preds/
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .runs import (
    History,
    TrainOptions,
    UserError,
    evaluate,
    load_splits,
    print_metrics,
    save_run,
    train_model,
    write_predictions,
)

__all__ = ["main", "build_parser"]

logger = logging.getLogger(__name__)

PROG = "efficientdet-adapter"
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff")
# Measured here (2 shared CPU cores): held-out AP50 0.84 after 12 epochs; with IceVision's full
# augmentation, or a peak lr of 3e-3, 10-12 epochs reach only 0.40-0.61.
DEMO_DEFAULTS = {"epochs": 12, "num_images": 240, "img_size": 256, "batch_size": 8, "lr": 1e-2,
                 "aug": "flip"}




# -- commands ----------------------------------------------------------------------------------
def _options(args) -> TrainOptions:
    return TrainOptions(
        model_name=args.model, img_size=args.img_size, epochs=args.epochs,
        batch_size=args.batch_size, lr=args.lr, engine=args.engine,
        pretrained_backbone=args.pretrained_backbone, freeze_epochs=args.freeze_epochs,
        num_workers=args.num_workers, seed=args.seed, aug=args.aug,
    )


def cmd_train(args) -> int:
    opts = _options(args)
    train, valid, test, class_map, parser = load_splits(args.data, args.format, args.seed)
    out = Path(args.out)
    print(f"{len(train)} train, {len(valid)} valid, {len(test)} test images; "
          f"classes {class_map.foreground}; training {opts.model_name} at {opts.img_size} px "
          f"for {opts.epochs} epochs ({opts.engine})")
    history = History(out / "metrics.json")
    start = time.perf_counter()
    model = train_model(train, valid, class_map, opts, history)
    train_s = time.perf_counter() - start
    final, _ = evaluate(model, valid)
    final_row = {"valid": final, "train_seconds": round(train_s, 1)}
    ckpt = save_run(model, class_map, opts, history, valid, out, final_row,
                     {"category_ids": {int(k): int(v) for k, v in parser.category_ids.items()}})
    print_metrics(f"COCOMetric on {len(valid)} valid images (after {train_s:.0f} s of training):",
                   final)
    print(f"wrote {ckpt}, {out / 'metrics.json'}, {out / 'loss.png'}, "
          f"{out / 'valid_predictions.png'}")
    return 0


def cmd_eval(args) -> int:
    from .checkpoint import model_from_checkpoint

    model, class_map, _ = model_from_checkpoint(args.checkpoint)
    train, valid, test, data_map, _ = load_splits(args.data, args.format)
    records = {"train": train, "valid": valid, "test": test}[args.split]
    if not records:
        raise UserError(f"--split {args.split}: the data has no {args.split} images")
    if data_map.foreground != class_map.foreground:
        raise UserError(
            f"the data's classes {data_map.foreground} differ from the checkpoint's "
            f"{class_map.foreground}: evaluate on data annotated with the same classes"
        )
    metrics, _ = evaluate(model, records)
    print_metrics(f"COCOMetric on {len(records)} {args.split} images:", metrics)
    if args.out:
        out = Path(args.out)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(metrics, indent=2), encoding="utf-8")
        print(f"wrote {out}")
    return 0


def _image_files(inputs: Sequence[str]) -> list[Path]:
    files: list[Path] = []
    for item in inputs:
        path = Path(item)
        if path.is_dir():
            found = sorted(p for p in path.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
            if not found:
                raise UserError(f"{path}: no images ({', '.join(IMAGE_SUFFIXES)}) in this folder")
            files += found
        elif path.is_file():
            files.append(path)
        else:
            raise UserError(f"{path}: no such image file or folder")
    return files


def cmd_predict(args) -> int:
    from .checkpoint import load_checkpoint_data, model_from_checkpoint
    from .dataset import Dataset
    from .efficientdet.prediction import inference_tfm, predict

    files = _image_files(args.images)
    model, class_map, _ = model_from_checkpoint(args.checkpoint, device=args.device)
    extra = load_checkpoint_data(args.checkpoint).get("extra", {}) or {}
    category_ids = {int(k): int(v) for k, v in (extra.get("category_ids") or {}).items()} or None
    ds = Dataset.from_images(files, inference_tfm(model), class_map=class_map)
    preds = predict(model, ds, detection_threshold=args.threshold, batch_size=args.batch_size,
                    show_pbar=True)
    out = Path(args.out)
    results = write_predictions(preds, out, category_ids, min_score=args.threshold,
                                annotated=not args.no_images)
    kept = sum(len(p) for p in preds)
    print(f"{kept} detections (score >= {args.threshold}) in {len(preds)} images; wrote "
          f"{results}" + ("" if args.no_images else f" and {len(preds)} annotated PNGs in {out}"))
    return 0


def cmd_export(args) -> int:
    from .checkpoint import model_from_checkpoint
    from .efficientdet.export import export_onnx, export_torchscript

    model, _, config = model_from_checkpoint(args.checkpoint)
    suffix = ".onnx" if args.format == "onnx" else ".ts"
    out = Path(args.out) if args.out else Path(args.checkpoint).with_suffix(suffix)
    if args.format == "onnx":
        path = export_onnx(model, out, img_size=args.img_size, opset=args.opset)
        print(f"wrote {path}: input 'images' [B, 3, H, W] normalized with mean {config.mean}, "
              f"std {config.std}; outputs boxes, scores, classes (NMS: "
              "efficientdet_adapter.efficientdet.export.onnx_postprocess)")
    else:
        path = export_torchscript(model, out)
        print(f"wrote {path}")
    return 0


def cmd_demo(args) -> int:
    from .demo import write_demo_dataset

    out = Path(args.out)
    start = time.perf_counter()
    data = write_demo_dataset(out / "data", num_images=args.num_images, seed=args.seed)
    train, valid, test, class_map, _ = load_splits(data, "coco", args.seed)
    opts = _options(args)
    print(f"demo data: {len(train)} train, {len(valid)} valid, {len(test)} held-out test images "
          f"in {data}; training {opts.model_name} at {opts.img_size} px for {opts.epochs} epochs "
          f"({opts.engine}, backbone: {opts.pretrained_backbone})")
    history = History(out / "metrics.json")
    t0, cpu0 = time.perf_counter(), time.process_time()
    model = train_model(train, valid, class_map, opts, history)
    train_s, train_cpu = time.perf_counter() - t0, time.process_time() - cpu0
    held_out = test or valid
    metrics, preds = evaluate(model, held_out)
    final = {"test": metrics, "train_seconds": round(train_s, 1),
             "train_cpu_seconds": round(train_cpu, 1),
             "total_seconds": round(time.perf_counter() - start, 1)}
    ckpt = save_run(model, class_map, opts, history, valid, out, final, {"demo": True})
    results = write_predictions([p.with_threshold(0.5) for p in preds], out / "predictions",
                                min_score=0.0)
    print_metrics(f"COCOMetric on {len(held_out)} held-out demo images "
                   f"(training took {train_s:.0f} s):", metrics)
    print(f"wrote {ckpt}, {out / 'metrics.json'}, {out / 'loss.png'}, "
          f"{out / 'valid_predictions.png'}, {results} and annotated PNGs in {out / 'predictions'}")
    print(f"total time {time.perf_counter() - start:.0f} s")
    return 0


# -- the parser --------------------------------------------------------------------------------
def _add_training_args(p: argparse.ArgumentParser, defaults: dict[str, Any]) -> None:
    g = p.add_argument_group("training")
    g.add_argument("--model", default="tf_efficientdet_lite0",
                   help="effdet model name (default: %(default)s)")
    g.add_argument("--img-size", type=int, default=defaults.get("img_size", 384),
                   help="square input size in pixels, a multiple of 128 (default: %(default)s)")
    g.add_argument("--epochs", type=int, default=defaults.get("epochs", 10),
                   help="training epochs (default: %(default)s)")
    g.add_argument("--batch-size", type=int, default=defaults.get("batch_size", 8),
                   help="images per batch (default: %(default)s)")
    g.add_argument("--lr", type=float, default=defaults.get("lr", 3e-3),
                   help="peak learning rate of the one-cycle schedule (default: %(default)s)")
    g.add_argument("--engine", choices=("fastai", "lightning"), default="fastai",
                   help="training loop (default: %(default)s)")
    g.add_argument("--pretrained-backbone", default="auto", metavar="auto|none|hub|imagenet-lite0|FILE",
                   help="backbone weights: auto = the packaged ImageNet Lite0 weights for "
                        "tf_efficientdet_lite0 (offline), none otherwise (default: %(default)s)")
    g.add_argument("--aug", choices=("full", "flip", "none"), default=defaults.get("aug", "full"),
                   help="training augmentation: full = IceVision's aug_tfms, flip = resize, pad "
                        "and horizontal flip (default: %(default)s)")
    g.add_argument("--freeze-epochs", type=int, default=0,
                   help="epochs with the backbone frozen first (fastai fine_tune; default: 0)")
    g.add_argument("--num-workers", type=int, default=0,
                   help="DataLoader worker processes (default: %(default)s)")
    g.add_argument("--seed", type=int, default=0, help="random seed (default: %(default)s)")
    g.add_argument("--threads", type=int, default=None,
                   help="CPU threads for PyTorch (default: PyTorch's choice; 1 is faster on a "
                        "busy machine)")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every subcommand."""
    parser = argparse.ArgumentParser(
        prog=PROG, description="Train, evaluate, run and export EfficientDet object detectors.")
    parser.add_argument("-v", "--verbose", action="store_true", help="log more")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    p = sub.add_parser("train", help="train on a dataset export (folder or zip)",
                       description="Train on a Roboflow-style export (COCO, VOC, YOLO or CSV): "
                       "writes model.pt, metrics.json, loss.png, valid_predictions.png to --out.")
    p.add_argument("--data", required=True, help="the export folder or .zip")
    p.add_argument("--format", default="auto", choices=("auto", "coco", "voc", "yolo", "csv"),
                   help="annotation format (default: %(default)s = detect)")
    p.add_argument("--out", default="runs/train", help="output folder (default: %(default)s)")
    _add_training_args(p, {})
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("eval", help="score a checkpoint on a dataset (COCOMetric)",
                       description="Print COCOMetric of a checkpoint on one split of an export.")
    p.add_argument("--data", required=True, help="the export folder or .zip")
    p.add_argument("--checkpoint", required=True, help="a model.pt written by train or demo")
    p.add_argument("--format", default="auto", choices=("auto", "coco", "voc", "yolo", "csv"))
    p.add_argument("--split", default="valid", choices=("train", "valid", "test"),
                   help="which split to score (default: %(default)s)")
    p.add_argument("--out", help="also write the metrics to this JSON file")
    p.set_defaults(func=cmd_eval)

    p = sub.add_parser("predict", help="detect objects in images",
                       description="Detect objects in image files or folders: writes annotated "
                       "PNGs, predictions.json (COCO results) and images.json to --out.")
    p.add_argument("images", nargs="+", help="image files or folders")
    p.add_argument("--checkpoint", required=True, help="a model.pt written by train or demo")
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--threshold", type=float, default=0.5,
                   help="keep detections scoring at least this (default: %(default)s)")
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--device", default="cpu", help="cpu or cuda (default: %(default)s)")
    p.add_argument("--no-images", action="store_true", help="write only the JSON files")
    p.set_defaults(func=cmd_predict)

    p = sub.add_parser("export", help="export a checkpoint to ONNX or TorchScript",
                       description="Export a checkpoint. ONNX: outputs boxes, scores, classes "
                       "before NMS. TorchScript: non-lite models only (e.g. efficientdet_d0).")
    p.add_argument("--checkpoint", required=True, help="a model.pt written by train or demo")
    p.add_argument("--format", default="onnx", choices=("onnx", "torchscript"))
    p.add_argument("--out", help="output file (default: beside the checkpoint)")
    p.add_argument("--img-size", type=int, help="ONNX input size (default: the model's)")
    p.add_argument("--opset", type=int, default=17, help="ONNX opset (default: %(default)s)")
    p.set_defaults(func=cmd_export)

    p = sub.add_parser("demo", help="train on the synthetic demo data and score held-out images",
                       description="Write the synthetic shapes dataset, train "
                       "tf_efficientdet_lite0 (packaged ImageNet backbone), print COCOMetric on "
                       "the held-out test images, write predictions and plots to --out.")
    p.add_argument("--out", default="runs/demo", help="output folder (default: %(default)s)")
    p.add_argument("--num-images", type=int, default=DEMO_DEFAULTS["num_images"],
                   help="images to generate over train/valid/test (default: %(default)s)")
    _add_training_args(p, DEMO_DEFAULTS)
    p.set_defaults(func=cmd_demo)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status (2 for user errors)."""
    from .errors import AdapterError

    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    if getattr(args, "threads", None):
        import torch

        torch.set_num_threads(args.threads)
    try:
        return int(args.func(args) or 0)
    except (UserError, AdapterError, FileNotFoundError, FileExistsError, ImportError) as e:
        message = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        print(f"{PROG} {args.command}: error: {message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"{PROG} {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
