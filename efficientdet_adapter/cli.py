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
import math
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["main", "build_parser", "TrainOptions", "train_model"]

logger = logging.getLogger(__name__)

PROG = "efficientdet-adapter"
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff")
# Measured here (2 shared CPU cores): held-out AP50 0.84 after 12 epochs; with IceVision's full
# augmentation, or a peak lr of 3e-3, 10-12 epochs reach only 0.40-0.61.
DEMO_DEFAULTS = {"epochs": 12, "num_images": 240, "img_size": 256, "batch_size": 8, "lr": 1e-2,
                 "aug": "flip"}


class UserError(Exception):
    """A mistake in the command line or its inputs: reported in one line, exit status 2."""


# -- options and data ------------------------------------------------------------------------------
@dataclass
class TrainOptions:
    """What ``train`` and ``demo`` train with (see ``efficientdet-adapter train --help``)."""

    model_name: str = "tf_efficientdet_lite0"
    img_size: int = 384
    epochs: int = 10
    batch_size: int = 8
    lr: float = 3e-3
    engine: str = "fastai"
    pretrained_backbone: str = "auto"
    freeze_epochs: int = 0
    num_workers: int = 0
    seed: int = 0
    aug: str = "full"
    extra: dict[str, Any] = field(default_factory=dict)


def _backbone_weights(opts: TrainOptions) -> Any:
    choice = opts.pretrained_backbone
    if choice == "auto":  # the one pretrained backbone that works offline, else none
        from .efficientdet.weights import LITE0_PACKAGE

        if opts.model_name == "tf_efficientdet_lite0":
            return LITE0_PACKAGE
        logger.warning("no offline pretrained backbone for %s: training from scratch",
                       opts.model_name)
        return False
    if choice in ("none", "false", "no"):
        return False
    if choice in ("hub", "true"):
        return True
    return choice  # "imagenet-lite0" or a file


def load_splits(data: str | Path, format: str = "auto", seed: int = 0):
    """``(train, valid, test, class_map, parser)`` of a Roboflow-style export (folder or zip).

    Without a ``valid`` split, 20% of ``train`` (seeded) validates; ``test`` may be empty.
    """
    from .parsers import RandomSplitter, RoboflowParser

    path = Path(data)
    if not path.exists():
        raise UserError(f"--data {path}: no such folder or zip file")
    parser = RoboflowParser(path, format=format)
    splits = parser.parse_splits()
    train, valid, test = (splits.get(k, []) for k in ("train", "valid", "test"))
    if not train:
        raise UserError(f"--data {path}: the export has no train split with images")
    if not valid:
        by_id = {r.record_id: r for r in train}
        train_ids, valid_ids = RandomSplitter([0.8, 0.2], seed=seed).split(train)
        train, valid = [by_id[i] for i in train_ids], [by_id[i] for i in valid_ids]
        logger.info("no valid split: holding out %d of the train images", len(valid))
    return train, valid, test, parser.class_map, parser


def _tfms(model, img_size: int, aug: str = "full"):
    """Training and inference transforms. ``aug``: ``full`` (IceVision's ``aug_tfms``), ``flip``
    (resize, pad and a horizontal flip: learns faster in short runs) or ``none``."""
    from . import tfms
    from .efficientdet.prediction import inference_tfm

    norm = tfms.A.Normalize(mean=model.config.mean, std=model.config.std)
    if aug == "full":
        parts = tfms.A.aug_tfms(img_size)
    elif aug == "flip":
        parts = [*tfms.A.resize_and_pad(img_size), tfms.A.HorizontalFlip(p=0.5)]
    elif aug == "none":
        parts = tfms.A.resize_and_pad(img_size)
    else:
        raise UserError(f"--aug {aug!r}: choose full, flip or none")
    return tfms.A.Adapter([*parts, norm]), inference_tfm(model)


# -- training ----------------------------------------------------------------------------------
class History:
    """Per-step training losses and per-epoch rows, written to ``metrics.json`` as they come."""

    def __init__(self, path: Path | None):
        self.path = path
        self.steps: list[float] = []
        self.epochs: list[dict[str, Any]] = []
        self._start = time.perf_counter()

    def add_step(self, loss: float) -> None:
        self.steps.append(float(loss))

    def add_epoch(self, row: dict[str, Any]) -> None:
        row = {k: (None if isinstance(v, float) and not math.isfinite(v) else v)
               for k, v in row.items()}
        row["elapsed_s"] = round(time.perf_counter() - self._start, 2)
        self.epochs.append(row)
        logger.info("epoch %s: %s", row.get("epoch"), row)
        self.write()

    def write(self, final: dict[str, Any] | None = None) -> None:
        if self.path is None:
            return
        data = {"epochs": self.epochs}
        if final is not None:
            data["final"] = final
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.write_text(json.dumps(data, indent=2), encoding="utf-8")


def _fit_fastai(model, train_dl, valid_dl, opts: TrainOptions, history: History) -> None:
    from fastai.callback.core import Callback

    from .efficientdet import fastai as edfastai
    from .metrics import COCOMetric

    class _Record(Callback):
        order = 60  # after fastai's Recorder (50) has logged the epoch

        def after_batch(self):
            if self.training:
                history.add_step(float(self.learn.loss.detach()))

        def after_epoch(self):
            names = [str(n) for n in self.recorder.metric_names]
            values = list(self.recorder.log)
            row = {n: (float(v) if isinstance(v, (int, float)) else v)
                   for n, v in zip(names, values) if n != "time"}
            row["epoch"] = int(self.epoch) + 1
            history.add_epoch(row)

    learn = edfastai.learner([train_dl, valid_dl], model, metrics=[COCOMetric()], cbs=[_Record()])
    if opts.freeze_epochs > 0:
        learn.fine_tune(opts.epochs, opts.lr, freeze_epochs=opts.freeze_epochs)
    else:
        learn.fit_one_cycle(opts.epochs, opts.lr)


def _fit_lightning(model, train_dl, valid_dl, opts: TrainOptions, history: History) -> None:
    import pytorch_lightning as pl
    import torch

    from .efficientdet.lightning import ModelAdapter
    from .metrics import COCOMetric

    steps = max(1, opts.epochs * len(train_dl))

    class _Light(ModelAdapter):
        def configure_optimizers(self):
            opt = torch.optim.AdamW(self.parameters(), lr=opts.lr, weight_decay=0.01)
            sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=opts.lr, total_steps=steps,
                                                        pct_start=0.25)
            return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "step"}}

    class _Record(pl.Callback):
        def on_train_batch_end(self, trainer, module, outputs, batch, batch_idx):
            loss = outputs["loss"] if isinstance(outputs, dict) else outputs
            history.add_step(float(loss))

        def on_train_epoch_end(self, trainer, module):
            row = {"epoch": trainer.current_epoch + 1}
            for k, v in trainer.callback_metrics.items():
                if not k.endswith("_step"):
                    row[k.removesuffix("_epoch")] = float(v)
            history.add_epoch(row)

    trainer = pl.Trainer(
        max_epochs=opts.epochs, accelerator="auto", devices=1, logger=False,
        enable_checkpointing=False, enable_model_summary=False, callbacks=[_Record()],
        num_sanity_val_steps=0,
    )
    trainer.fit(_Light(model, metrics=[COCOMetric()]), train_dl, valid_dl)


def train_model(train_records, valid_records, class_map, opts: TrainOptions,
                history: History | None = None):
    """Build ``opts.model_name`` for ``class_map`` and train it; returns the model (eval mode)."""
    import torch

    from .dataset import Dataset
    from .efficientdet import dataloaders
    from .efficientdet.model import model as build_model

    if opts.engine not in ("fastai", "lightning"):
        raise UserError(f"--engine {opts.engine!r}: choose fastai or lightning")
    torch.manual_seed(opts.seed)
    model = build_model(model_name=opts.model_name, num_classes=len(class_map),
                        img_size=opts.img_size, pretrained_backbone=_backbone_weights(opts))
    train_tfm, valid_tfm = _tfms(model, opts.img_size, opts.aug)
    loader_kwargs = {"batch_size": opts.batch_size, "num_workers": opts.num_workers,
                     "persistent_workers": opts.num_workers > 0}
    train_dl = dataloaders.train_dl(Dataset(train_records, train_tfm), shuffle=True,
                                    drop_last=len(train_records) > opts.batch_size,
                                    anchor_labeler=model, **loader_kwargs)
    valid_dl = dataloaders.valid_dl(Dataset(valid_records, valid_tfm), **loader_kwargs)
    history = history or History(None)
    fit = _fit_fastai if opts.engine == "fastai" else _fit_lightning
    try:
        fit(model, train_dl, valid_dl, opts, history)
    except ImportError as e:
        raise UserError(str(e)) from None
    return model.eval()


def evaluate(model, records, show_pbar: bool = True) -> tuple[dict[str, float], list]:
    """COCOMetric of ``model`` on ``records`` (boxes compared in the original images' pixels)."""
    from .dataset import Dataset
    from .efficientdet.prediction import inference_tfm, predict
    from .metrics import COCOMetric

    preds = predict(model, Dataset(records, inference_tfm(model)), detection_threshold=0.5,
                    show_pbar=show_pbar)
    metric = COCOMetric()
    metric.accumulate(preds)
    return metric.finalize(), preds


# -- pictures and files ------------------------------------------------------------------------
def plot_losses(history: History, path: Path) -> Path:
    """Training loss per step (and its running mean) and validation loss per epoch, as a PNG."""
    import numpy as np
    from matplotlib.figure import Figure

    fig = Figure(figsize=(7, 4), dpi=100)
    ax = fig.add_subplot()
    steps = np.asarray(history.steps, dtype=float)
    if steps.size:
        x = np.arange(1, steps.size + 1)
        ax.plot(x, steps, color="0.75", linewidth=0.8, label="train (step)")
        k = max(1, steps.size // 20)
        smooth = np.convolve(steps, np.ones(k) / k, mode="valid")
        ax.plot(x[k - 1:], smooth, color="tab:blue", label=f"train (mean of {k})")
    per_epoch = max(1, steps.size // max(1, len(history.epochs)))
    valid = [(e["epoch"] * per_epoch, e.get("valid_loss", e.get("val_loss")))
             for e in history.epochs]
    valid = [(x, y) for x, y in valid if y is not None]
    if valid:
        ax.plot(*zip(*valid), "o-", color="tab:orange", label="valid (epoch)")
    ax.set_xlabel("training step")
    ax.set_ylabel("loss")
    ax.set_yscale("log")
    ax.legend()
    ax.grid(alpha=0.3)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, format="png")
    return path


def write_predictions(preds, out_dir: Path, category_ids=None, min_score: float | None = None,
                      annotated: bool = True) -> Path:
    """Annotated PNGs (one per image) and ``predictions.json`` (COCO results) in ``out_dir``.

    ``images.json`` beside it maps the results' ``image_id`` to the image files.
    """
    from PIL import Image

    from .efficientdet.prediction import annotate
    from .writers import write_coco_results

    out_dir.mkdir(parents=True, exist_ok=True)
    images, image_ids, taken = [], {}, set()
    for i, pred in enumerate(preds):
        image_ids[pred.record_id] = i
        name = Path(pred.filepath).name if pred.filepath is not None else f"image_{i}"
        images.append({"id": i, "file_name": str(pred.filepath or name),
                       "width": pred.width, "height": pred.height})
        if annotated:
            stem = Path(name).stem
            png = f"{stem}.png" if f"{stem}.png" not in taken else f"{stem}_{i}.png"
            taken.add(png)
            Image.fromarray(annotate(pred)).save(out_dir / png)
    (out_dir / "images.json").write_text(json.dumps(images, indent=1), encoding="utf-8")
    return write_coco_results(preds, out_dir / "predictions.json", category_ids,
                              image_ids=image_ids, min_score=min_score)


def _save_run(model, class_map, opts: TrainOptions, history: History, valid_records, out: Path,
              final: dict[str, Any], extra: dict[str, Any]) -> Path:
    from .checkpoint import save_checkpoint
    from .dataset import Dataset
    from .efficientdet.prediction import inference_tfm, show_results

    ckpt = save_checkpoint(model, out / "model.pt", class_map, extra={
        "engine": opts.engine, "epochs": opts.epochs, "lr": opts.lr,
        "batch_size": opts.batch_size, "metrics": final, **extra})
    history.write(final)
    plot_losses(history, out / "loss.png")
    show_results(model, Dataset(valid_records, inference_tfm(model)), num_samples=6, ncols=2,
                 save_path=out / "valid_predictions.png", cell_size=3.0)
    return ckpt


def _print_metrics(title: str, metrics: dict[str, float]) -> None:
    print(title)
    for key, value in metrics.items():
        if "class=" not in key:
            print(f"  {key:<44} {value:7.4f}")
    per_class = {k: v for k, v in metrics.items() if "class=" in k}
    for key, value in per_class.items():
        print(f"  {key:<44} {value:7.4f}")


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
    ckpt = _save_run(model, class_map, opts, history, valid, out, final_row,
                     {"category_ids": {int(k): int(v) for k, v in parser.category_ids.items()}})
    _print_metrics(f"COCOMetric on {len(valid)} valid images (after {train_s:.0f} s of training):",
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
    _print_metrics(f"COCOMetric on {len(records)} {args.split} images:", metrics)
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
    ckpt = _save_run(model, class_map, opts, history, valid, out, final, {"demo": True})
    results = write_predictions([p.with_threshold(0.5) for p in preds], out / "predictions",
                                min_score=0.0)
    _print_metrics(f"COCOMetric on {len(held_out)} held-out demo images "
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
