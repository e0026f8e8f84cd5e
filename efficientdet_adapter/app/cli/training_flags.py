"""The training flags that ``train`` and ``demo`` share, their checks, and the run's options
(``TrainOptions``) built from them; train then save, and what a finished run prints."""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path

from efficientdet_adapter.app.cli.common import PROG, is_ddp_child, need
from efficientdet_adapter.app.cli.values import duration_value, img_size_or_auto, number, threads_value
from efficientdet_adapter.app.runs import DEMO_OPTIONS, TrainOptions, save_model
from efficientdet_adapter.base.choices import AUG_PRESETS, ENGINES
from efficientdet_adapter.base.devices import PRECISIONS, resolve_device, resolve_precision
from efficientdet_adapter.base.errors import UsageError
from efficientdet_adapter.training.auto_options import ANCHOR_CHOICES
from efficientdet_adapter.training.interrupts import Terminated
from efficientdet_adapter.training.loggers import LOGGERS, check_loggers
from efficientdet_adapter.training.run_options import PROGRESS_CHOICES
from efficientdet_adapter.training.small_boxes import SMALL_BOX_CHOICES
from efficientdet_adapter.weights.packaged_table import BACKBONE_CHOICES  # read from the table
from efficientdet_adapter.weights.start import WEIGHTS_CHOICES, check_weights

# The defaults of train's and demo's training flags have one home: runs.TrainOptions (why these
# values: its docstring; the runs that chose them: docs/benchmarks.md).
TRAIN_DEFAULTS = TrainOptions()

DEMO_DEFAULTS = DEMO_OPTIONS


def add_training_args(p: argparse.ArgumentParser, defaults: TrainOptions) -> None:
    """``train``'s and ``demo``'s training flags, each defaulting to the field of ``defaults``."""
    g = p.add_argument_group("training")
    g.add_argument("--model", default=defaults.model_name,
                   help="effdet model name (default: %(default)s)")
    g.add_argument("--img-size", type=img_size_or_auto, default=defaults.img_size,
                   help="square input size in pixels, a multiple of 128, or auto: the smallest "
                        "size from 256 at which 95%% of the training boxes have an anchor with "
                        "IoU >= 0.5 (at most 1024 and the largest image side; `check` shows "
                        "that share) (default: %(default)s)")
    g.add_argument("--anchors", choices=ANCHOR_CHOICES, default=defaults.anchors,
                   help="default = effdet's anchors; auto = fit anchor_scale and aspect_ratios "
                        "to the training boxes when that raises the share matched at IoU >= "
                        "0.5 (prints before/after; kept in the checkpoint) (default: "
                        "%(default)s)")
    g.add_argument("--epochs", type=number(int, low=1), default=None,
                   help=f"training epochs, at least 1 (default: {defaults.epochs}); with --time, "
                        "the most epochs the budget may fit (default then: 300)")
    g.add_argument("--time", type=duration_value, default=defaults.time, metavar="DURATION",
                   help="wall-clock budget for training, e.g. 600, 600s, 10m, 1h: a few "
                        "seconds of steps are timed, then the run's steps are planned and "
                        "planned again at each epoch from its measured time, so the last "
                        "epoch (validation and checkpoints included) ends near the budget with "
                        "the one-cycle schedule complete; --epochs caps them; --resume goes on "
                        "with the budget left (default: no budget, --epochs decides)")
    p.set_defaults(default_epochs=defaults.epochs)
    g.add_argument("--batch-size", type=number(int, low=1), default=defaults.batch_size,
                   help="images per batch, at least 1 (default: %(default)s)")
    g.add_argument("--lr", type=number(float, low=0, low_open=True), default=defaults.lr,
                   help="peak learning rate of the one-cycle schedule (default: %(default)s)")
    g.add_argument("--engine", choices=ENGINES, default=defaults.engine,
                   help="training loop (default: %(default)s)")
    g.add_argument("--weights", default=defaults.weights,
                   metavar="|".join(WEIGHTS_CHOICES) + "|FILE|RUN_DIR",
                   help="where training starts: auto = effdet's COCO-pretrained detector when "
                        "cached or downloadable (a probe of 2 s), else the packaged ImageNet "
                        "backbone; coco; none = random; FILE = a model.pt/best.pt/last.pt or "
                        "IceVision checkpoint, RUN_DIR = a run folder (its best.pt, else model.pt, "
                        "else last.pt): class-head rows kept by class name (default: "
                        "%(default)s)")
    g.add_argument("--pretrained-backbone", default=defaults.pretrained_backbone,
                   metavar="auto|none|hub|imagenet-lite0|imagenet-lite1|imagenet-lite2|FILE",
                   help="backbone weights: auto = the packaged ImageNet Lite0/1/2 weights for "
                        "tf_efficientdet_lite0/1/2 (offline), none otherwise, when --weights "
                        "auto does not find COCO weights; another value (with --weights auto) "
                        "is the start (default: %(default)s)")
    g.add_argument("--aug", choices=AUG_PRESETS, default=defaults.aug,
                   help="training augmentation (tfms.A.AUG_PRESETS): full = IceVision's aug_tfms, "
                        "flip = resize, pad and horizontal flip, scale = scale jitter 0.5-1.5x, "
                        "random crop and flip (default: %(default)s)")
    g.add_argument("--freeze-epochs", type=number(int, low=0), default=defaults.freeze_epochs,
                   help="epochs with the backbone frozen first (fastai fine_tune; default: "
                        "%(default)s)")
    g.add_argument("--num-workers", type=number(int, low=0), default=defaults.num_workers,
                   help="DataLoader worker processes (default: %(default)s)")
    g.add_argument("--seed", type=int, default=defaults.seed,
                   help="random seed (default: %(default)s)")
    g.add_argument("--threads", type=threads_value, default="auto",
                   help="CPU threads for PyTorch, or auto (the default): one per core that "
                        "other work leaves free, at most PyTorch's choice (on a busy machine "
                        "fewer threads are much faster)")
    g.add_argument("--patience", type=number(int, low=1), default=defaults.patience, metavar="N",
                   help="early stopping: stop after N epochs without a better validation COCO AP "
                        "(default: train every epoch)")
    g.add_argument("--ema", action=argparse.BooleanOptionalAction, default=defaults.ema,
                   help="keep an exponential moving average of the weights (timm ModelEmaV3); "
                        "validate it and save it as the model")
    g.add_argument("--small-boxes", choices=SMALL_BOX_CHOICES, default=defaults.small_boxes,
                   help="when most training boxes are below the smallest anchor: remedy = train "
                        "at a larger --img-size (that --time can afford) or with smaller anchors, "
                        "and say which; keep = train as given (default: %(default)s)")
    g.add_argument("--backbone-lr-mult", type=number(float, low=0, low_open=True),
                   default=defaults.backbone_lr_mult, metavar="M",
                   help="the backbone's peak lr is --lr times M, in (0, 1]; the FPN and heads "
                        "train at --lr (default: %(default)s)")
    g.add_argument("--freeze-bn", action=argparse.BooleanOptionalAction,
                   default=defaults.freeze_bn,
                   help="keep BatchNorm's running statistics as the weights came (from the "
                        "pretrained backbone); their scale and shift still train")
    g.add_argument("--deterministic", action=argparse.BooleanOptionalAction,
                   default=defaults.deterministic,
                   help="torch.use_deterministic_algorithms (warn-only): repeatable runs, slower")
    g.add_argument("--progress", choices=PROGRESS_CHOICES, default=defaults.progress,
                   help="a progress bar, or one line per epoch; auto = a bar in a terminal, "
                        "lines otherwise (default: %(default)s)")
    g.add_argument("--logger", dest="loggers", action="append", choices=LOGGERS, default=None,
                   help="also report to this experiment tracker, repeatable: tensorboard, "
                        "wandb, mlflow or csv, through the engine's own integration, in the run "
                        "folder (default: TensorBoard when installed)")
    d = p.add_argument_group("devices")
    d.add_argument("--device", default=defaults.device, metavar="auto|cpu|cuda|cuda:N",
                   help="where to train; auto = the GPU when there is one (default: %(default)s)")
    d.add_argument("--precision", choices=PRECISIONS, default=defaults.precision,
                   help="auto = bf16-mixed on a GPU with bfloat16, 16-mixed on other GPUs, 32 on "
                        "the CPU (default: %(default)s)")
    d.add_argument("--devices", type=number(int, low=1), default=defaults.devices, metavar="N",
                   help="GPUs (or CPU processes) per node; more than 1 trains with Lightning DDP "
                        "(--engine lightning) (default: %(default)s)")
    d.add_argument("--num-nodes", type=number(int, low=1), default=defaults.num_nodes,
                   metavar="N",
                   help="machines for DDP (--engine lightning) (default: %(default)s)")


def add_check_images(p: argparse.ArgumentParser, before: str = "training") -> None:
    p.add_argument("--check-images", action=argparse.BooleanOptionalAction, default=False,
                   help=f"open every image header before {before} and compare its size (and EXIF "
                        "rotation) with the annotation, fixing what has one fix and reporting "
                        "it (slower on large data; the same check runs anyway when an image is "
                        "loaded)")


def check_training_args(args) -> None:
    """What argparse's types cannot see alone in ``train``/``demo``'s options."""
    with warnings.catch_warnings():  # effdet's import warns about torch.jit: not the user's
        warnings.simplefilter("ignore", FutureWarning)
        from efficientdet_adapter.model.model import list_models  # noqa: PLC0415

    if args.model not in list_models():
        raise UsageError(f"--model {args.model}: not an effdet model name; use e.g. "
                         "tf_efficientdet_lite0 or efficientdet_d0 (all: "
                         "efficientdet_adapter.efficientdet.list_models())")
    backbone = args.pretrained_backbone
    if backbone.lower() not in BACKBONE_CHOICES and not Path(backbone).is_file():
        raise UsageError(f"--pretrained-backbone {backbone}: neither auto, none, hub, "
                         "imagenet-lite0/1/2 nor an existing weights file")
    check_weights(args.weights, backbone, option="--weights")
    need("fastai" if args.engine == "fastai" else "lightning|pytorch_lightning",
          f"--engine {args.engine}", args.engine)
    args.loggers = check_loggers(args.loggers)  # known, installed, each once


def epochs_of(args) -> int:
    """``--epochs``, or its default: the command's, or with ``--time`` the budget's cap."""
    if args.epochs is not None:
        return args.epochs
    from efficientdet_adapter.training.budget import MAX_BUDGET_EPOCHS  # noqa: PLC0415

    return MAX_BUDGET_EPOCHS if args.time else args.default_epochs


def train_options(args) -> TrainOptions:
    return TrainOptions(
        model_name=args.model, img_size=args.img_size, epochs=epochs_of(args),
        batch_size=args.batch_size, lr=args.lr, engine=args.engine,
        weights=args.weights, pretrained_backbone=args.pretrained_backbone,
        freeze_epochs=args.freeze_epochs,
        num_workers=args.num_workers, seed=args.seed, aug=args.aug,
        patience=args.patience, ema=args.ema, device=args.device, precision=args.precision,
        devices=args.devices, num_nodes=args.num_nodes, deterministic=args.deterministic,
        progress=args.progress, anchors=args.anchors, time=args.time,
        backbone_lr_mult=args.backbone_lr_mult, freeze_bn=args.freeze_bn,
        small_boxes=args.small_boxes,
        loggers=list(args.loggers or []),
    )


def check_run_options(opts: TrainOptions) -> None:
    device = resolve_device(opts.device)
    resolve_precision(opts.precision, device)
    if opts.time and opts.devices * opts.num_nodes > 1:
        raise UsageError(f"--time with --devices {opts.devices} --num-nodes {opts.num_nodes}: "
                         "each process would time its own steps and could fit other epochs; "
                         "give --epochs for multi-device training")
    if opts.devices * opts.num_nodes > 1 and opts.engine != "lightning":
        raise UsageError(f"--devices {opts.devices} --num-nodes {opts.num_nodes}: the fastai "
                         "engine trains on one device; use --engine lightning for multi-GPU (DDP)")


def epochs_text(opts: TrainOptions, resume) -> str:
    if opts.time:
        left = "--time" if resume is None else "what is left of --time"
        return f"the epochs that fit {left} {opts.time:g} s (at most {opts.epochs})"
    return f"{opts.epochs} epochs"


def resolve_auto(opts: TrainOptions, train, quiet: bool = False) -> None:
    """``--img-size auto`` / ``--anchors auto``: chosen from the training boxes, said in a line."""
    from efficientdet_adapter.training.auto_options import resolve_auto_options  # noqa: PLC0415

    for line in resolve_auto_options(opts, train):
        if not quiet:
            print(line, flush=True)


def train_and_save(train, valid, class_map, opts: TrainOptions, out: Path, extra: dict,
                    resume: Path | None = None):
    """Train, then save the model at once (before any scoring or plotting that could fail)."""
    from efficientdet_adapter.app.runs import train_model  # noqa: PLC0415
    from efficientdet_adapter.training.plots import plot_augmented_samples  # noqa: PLC0415

    if resume is None and not is_ddp_child():
        plot_augmented_samples(train, opts, out / "train_samples.png")
    t0, cpu0 = time.perf_counter(), time.process_time()
    try:
        model = train_model(train, valid, class_map, opts, out=out, resume=resume,
                            run_extra=extra)
    except KeyboardInterrupt as e:  # Ctrl-C, or SIGTERM (training.interrupts.stop_on_sigterm)
        last = out / "last.pt"
        kept = (f"{last} keeps the last finished epoch; continue with: {PROG} train --resume "
                f"{out}") if last.is_file() else "no epoch had finished, nothing to resume"
        how = "stopped by SIGTERM" if isinstance(e, Terminated) else "interrupted"
        raise Interrupted(f"training {how}; {kept}", getattr(e, "exit_code", 130)) from None
    seconds, cpu = time.perf_counter() - t0, time.process_time() - cpu0
    from efficientdet_adapter.app.runs import process_rank  # noqa: PLC0415

    if process_rank() != 0 or is_ddp_child():
        return model, None, seconds, cpu
    ckpt = save_model(model, class_map, opts, out, extra)
    return model, ckpt, seconds, cpu


class Interrupted(KeyboardInterrupt):
    """Ctrl-C (or SIGTERM) during training, with the line that says how to resume."""

    def __init__(self, message: str, exit_code: int = 130) -> None:
        super().__init__(message)
        self.exit_code = exit_code


def report_fixes(parser) -> None:
    report = getattr(parser, "report", None)
    if report is not None and report.total:
        print(f"parse: {report.summary()}", file=sys.stderr)


def print_class_scores(preds, where: str) -> None:
    """The per-class AP / AP50 table (pycocotools' precision array) of ``preds``."""
    from efficientdet_adapter.metrics.class_scores import class_scores, class_table  # noqa: PLC0415

    print(class_table(class_scores(preds), title=f"per class on {where} (COCO AP over IoU "
                                                  "0.50:0.95, and AP at IoU 0.50):"))


def run_pictures(out: Path) -> str:
    """The pictures [`save_run`][efficientdet_adapter.app.runs.save_run] wrote, for the closing line."""
    names = ("curves.png", "pr_curves.png", "confusion_matrix.png", "valid_predictions.png")
    return ", ".join(str(out / n) for n in names if (out / n).is_file())
