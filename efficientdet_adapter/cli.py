"""The ``efficientdet-adapter`` command (also ``python -m efficientdet_adapter``).

Subcommands: ``train``, ``eval``, ``predict``, ``export`` and ``demo`` (writes the synthetic demo
dataset, trains on it, scores held-out images). ``efficientdet-adapter <command> --help`` lists
each one's options.

Errors: every mistake a user can make (an argument out of range, a missing file, a malformed
annotation, an output path that cannot be written, a checkpoint that does not fit) is one of the
library's own [`AdapterError`][efficientdet_adapter.errors.AdapterError] family; `main` prints it as
one line naming the argument or file and the fix, and exits with status 2. Arguments and output
paths are all checked before any data is read or any model is built, and no output is ever
written over an input file.

Example:
    $ efficientdet-adapter demo --out runs/demo
    $ efficientdet-adapter train --data shapes.v1i.coco.zip --epochs 12 --out runs/shapes
    $ efficientdet-adapter predict photos/ --checkpoint runs/shapes/model.pt --out preds/
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import json
import logging
import math
import sys
import tempfile
import time
import warnings
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from .atomic import atomic_write_text
from .errors import AdapterError, ImageLoadError, UsageError
from .auto_options import ANCHOR_CHOICES
from .choices import AUG_PRESETS, BACKBONE_CHOICES
from .engines import ENGINES
from .run_options import PROGRESS_CHOICES
from .training.interrupts import Terminated, stop_on_sigterm
from .small_boxes import SMALL_BOX_CHOICES
from .devices import PRECISIONS, resolve_device, resolve_precision
from .training.loggers import LOGGERS, check_loggers
from .run_config import RUN_FOLDER_ENV, expand_config, next_run_folder, write_run_args
from .start import WEIGHTS_CHOICES, check_weights
from .runs import (
    DEMO_NUM_IMAGES,
    DEMO_OPTIONS,
    TrainOptions,
    check_trainable,
    evaluate,
    load_splits,
    print_metrics,
    save_model,
    save_run,
    use_epoch_lines,
    write_predictions,
)

__all__ = ["main", "build_parser", "check_output_folder", "check_output_file"]

logger = logging.getLogger(__name__)

PROG = "efficientdet-adapter"
from .images import IMAGE_EXTENSIONS as IMAGE_SUFFIXES  # noqa: E402  (the one list)
from .images import check_pixels, list_image_files  # noqa: E402  (the one lister, the guard)
from .parsers.formats import FORMATS, SPLIT_NAMES  # noqa: E402  (the one lists)
FORMATS_OR_AUTO = ("auto", *FORMATS)  # --format of train, eval and check: auto detects it
ONNX_OPSETS = (11, 20)  # effdet's padding needs opset 11; 20 is the TorchScript exporter's last
from .export_formats import EXPORT_SUFFIXES, check_export_suffix  # noqa: E402  (the one table)
from .terminal import printable  # noqa: E402  (the one escaper of names shown on a terminal)
from .video import VIDEO_EXTENSIONS  # noqa: E402  (the one list of video suffixes)
MIN_DEMO_IMAGES = 10  # 7 train, 2 valid, 1 test
CHECKPOINT_HELP = ("a model.pt written by train or demo, a .onnx written by export, or its "
                   "http(s):// URL (downloaded once into the cache, as model_from_checkpoint does)")
# The defaults of train's and demo's training flags have one home: runs.TrainOptions (why these
# values: its docstring). Demo: held-out AP50 0.84 after 12 epochs on 2 shared CPU cores; with
# IceVision's full augmentation, or a peak lr of 3e-3, 10-12 epochs reach only 0.40-0.61.
TRAIN_DEFAULTS = TrainOptions()
DEMO_DEFAULTS = DEMO_OPTIONS


# -- checks made before any work -------------------------------------------------------------
def _same(a: Path, b: Path) -> bool:
    return a.resolve() == b.resolve()


def _inside(path: Path, folder: Path) -> bool:
    """``path`` is ``folder`` or lies below it (after resolving links)."""
    path, folder = path.resolve(), folder.resolve()
    return path == folder or folder in path.parents


def _writable_folder(folder: Path, option: str) -> None:
    """Create ``folder`` (with its parents) and prove a file can be written in it."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as e:
        raise UsageError(
            f"{option} {folder}: cannot write there ({e.strerror or e}); choose a writable folder"
        ) from None


def check_output_folder(value: str | Path, option: str = "--out",
                        inputs: Iterable[Path] = (), *, create: bool = True) -> Path:
    """The output folder ``value``, created and writable, apart from every path in ``inputs``.

    With ``create=False`` only the checks that need nothing created are made.

    Raises:
        UsageError: ``value`` is an existing file, an input folder or the folder of an input
            file (whose files the outputs could replace), or cannot be written.
    """
    out = Path(value)
    if out.exists() and not out.is_dir():
        raise UsageError(f"{option} {out}: is an existing file, not a folder; choose a folder "
                         "(it is created if missing)")
    for item in inputs:
        holder = item if item.is_dir() else item.parent
        if out.exists() and holder.exists() and _same(out, holder):
            what = "an input folder" if item.is_dir() else f"the folder of the input {item}"
            raise UsageError(f"{option} {out}: is {what}; outputs could replace your files, "
                             "choose a separate output folder")
    if create:
        _writable_folder(out, option)
    return out


def check_output_file(value: str | Path, option: str = "--out",
                      inputs: Iterable[Path] = ()) -> Path:
    """The output file ``value``: not a folder, not one of ``inputs``, in a writable folder."""
    path = Path(value)
    if path.is_dir():
        raise UsageError(f"{option} {path}: is an existing folder; give a file name inside it "
                         "or elsewhere")
    for item in inputs:
        if path.exists() and item.exists() and _same(path, item):
            raise UsageError(f"{option} {path}: is an input of this command; writing it would "
                             "destroy it, choose another file name")
    _writable_folder(path.parent, option)
    return path


def _check_file(value: str, option: str, what: str) -> Path:
    path = Path(value)
    if not path.is_file():
        problem = "no such file" if not path.exists() else "not a file"
        raise UsageError(f"{option} {path}: {problem}; give the path of {what}")
    return path


def _checkpoint(value: str) -> Path:
    """``--checkpoint``: a local file, or a URL downloaded into the cache (as the Python API); a
    ``.onnx`` needs ONNX Runtime."""
    from .weights.hub import is_url, local_file

    path = local_file(value) if is_url(value) else _check_file(
        value, "--checkpoint", "a model.pt written by train, a .onnx written by export (or its URL)")
    if path.suffix.lower() == ".onnx":
        _need("onnxruntime", f"--checkpoint {value}", "export")
    return path


def _check_data(value: str) -> Path:
    from .weights.hub import is_url

    if is_url(value):
        raise UsageError(f"--data {value}: URLs are not accepted; download the export and give "
                         "its folder or .zip")
    path = Path(value)
    if not path.exists():
        raise UsageError(f"--data {path}: no such folder or zip file; give a dataset export (a folder, .zip or data.yaml)")
    return path


def _need(module: str, option: str, extra: str) -> None:
    """Stop with the extra to install when ``module`` (any of ``a|b``) is not installed."""
    if all(importlib.util.find_spec(name) is None for name in module.split("|")):
        raise UsageError(f"{option} needs {module.replace('|', ' or ')}, which is not installed: "
                         f"pip install 'efficientdet_adapter[{extra}]'")


def _check_training_args(args) -> None:
    """What argparse's types cannot see alone in ``train``/``demo``'s options."""
    with warnings.catch_warnings():  # effdet's import warns about torch.jit: not the user's
        warnings.simplefilter("ignore", FutureWarning)
        from .efficientdet.model import list_models

    if args.model not in list_models():
        raise UsageError(f"--model {args.model}: not an effdet model name; use e.g. "
                         "tf_efficientdet_lite0 or efficientdet_d0 (all: "
                         "efficientdet_adapter.efficientdet.list_models())")
    backbone = args.pretrained_backbone
    if backbone.lower() not in BACKBONE_CHOICES and not Path(backbone).is_file():
        raise UsageError(f"--pretrained-backbone {backbone}: neither auto, none, hub, "
                         "imagenet-lite0/1/2 nor an existing weights file")
    check_weights(args.weights, backbone, option="--weights")
    _need("fastai" if args.engine == "fastai" else "lightning|pytorch_lightning",
          f"--engine {args.engine}", args.engine)
    args.loggers = check_loggers(args.loggers)  # known, installed, each once


# -- commands ----------------------------------------------------------------------------------
def _epochs(args) -> int:
    """``--epochs``, or its default: the command's, or with ``--time`` the budget's cap."""
    if args.epochs is not None:
        return args.epochs
    from .training.budget import MAX_BUDGET_EPOCHS

    return MAX_BUDGET_EPOCHS if args.time else args.default_epochs


def _options(args) -> TrainOptions:
    return TrainOptions(
        model_name=args.model, img_size=args.img_size, epochs=_epochs(args),
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


def _is_ddp_child() -> bool:
    """A process that Lightning's DDP launcher started (rank > 0): it re-runs the command."""
    import os

    return int(os.environ.get("LOCAL_RANK", 0) or 0) > 0 or int(os.environ.get("NODE_RANK", 0) or 0) > 0


def _train_and_save(train, valid, class_map, opts: TrainOptions, out: Path, extra: dict,
                    resume: Path | None = None):
    """Train, then save the model at once (before any scoring or plotting that could fail)."""
    from .runs import train_model
    from .training.plots import plot_augmented_samples

    if resume is None and not _is_ddp_child():
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
        raise _Interrupted(f"training {how}; {kept}", getattr(e, "exit_code", 130)) from None
    seconds, cpu = time.perf_counter() - t0, time.process_time() - cpu0
    from .runs import process_rank

    if process_rank() != 0 or _is_ddp_child():
        return model, None, seconds, cpu
    ckpt = save_model(model, class_map, opts, out, extra)
    return model, ckpt, seconds, cpu


class _Interrupted(KeyboardInterrupt):
    """Ctrl-C (or SIGTERM) during training, with the line that says how to resume."""

    def __init__(self, message: str, exit_code: int = 130) -> None:
        super().__init__(message)
        self.exit_code = exit_code


def _report_fixes(parser) -> None:
    report = getattr(parser, "report", None)
    if report is not None and report.total:
        print(f"parse: {report.summary()}", file=sys.stderr)


#: ``train --resume``: options that say how to run (applied from now on), and those that say what
#: the run trains (its own, from last.pt: given with another value, refused)
RESUME_HOW = ("device", "precision", "num_workers", "progress", "devices", "num_nodes",
              "loggers")
RESUME_WHAT = {"--model": "model_name", "--img-size": "img_size", "--epochs": "epochs",
               "--batch-size": "batch_size", "--lr": "lr", "--engine": "engine",
               "--weights": "weights", "--pretrained-backbone": "pretrained_backbone",
               "--aug": "aug",
               "--freeze-epochs": "freeze_epochs", "--seed": "seed", "--patience": "patience",
               "--ema": "ema", "--deterministic": "deterministic", "--time": "time",
               "--anchors": "anchors",
               "--backbone-lr-mult": "backbone_lr_mult", "--freeze-bn": "freeze_bn",
               "--small-boxes": "small_boxes"}

#: What a refusal says a resume may change (RESUME_HOW's flags, --threads and --data).
RESUME_MAY_CHANGE = ("--device, --precision, --num-workers, --progress, --devices, --num-nodes, "
                     "--threads and --data")


def _option_text(option: str, value: Any) -> str:
    """``--lr 0.005``; ``--time 3600 s`` (``no --time`` when the run has none)."""
    if option == "--time":
        return "no --time" if value is None else f"--time {value:g} s"
    return f"{option} {value}"


def _given(args) -> set[str]:
    """The long options written on the command line (argparse's abbreviations resolved)."""
    known = (*RESUME_WHAT, "--data", "--format", "--out", "--exist-ok")
    given = set()
    for token in getattr(args, "argv", None) or ():
        if token == "--":
            break
        if token.startswith("--"):
            name = token.split("=", 1)[0]
            match = [o for o in known if o == name] or [o for o in known if o.startswith(name)]
            if len(match) == 1:
                given.add(match[0])
    return given


def _resume_args(args) -> tuple[Path, TrainOptions, Path, str]:
    """``(data, options, out, format)`` of the run that ``--resume RUN_DIR`` continues.

    The rule for other options with ``--resume``: how to run (``--device``, ``--precision``,
    ``--num-workers``, ``--progress``, ``--devices``, ``--num-nodes``, ``--threads``) applies
    from now on; what the run trains (``--epochs``, ``--lr``, ``--model``, ``--time``,
    ``--anchors``, ...: `RESUME_WHAT`) is the run's own, and a different value is refused
    with the list of what a resume may change (the schedule was laid out for it: start a new run
    instead);
    ``--data`` (with ``--format``) replaces the export's recorded place, for an export that moved,
    and its classes must be the run's, in the run's order; ``--out`` and ``--exist-ok`` are
    refused (the run folder is RUN_DIR).
    """
    from .training.state import check_run_folder, load_train_state

    run_dir = check_run_folder(Path(args.resume), resume=True)
    saved, _ = load_train_state(run_dir / "last.pt", TrainOptions)
    extra = saved.get("extra") or {}
    opts = TrainOptions.from_dict(extra.get("options") or {})
    given = _given(args)
    for option in sorted(given & {"--out", "--exist-ok"}):
        raise UsageError(f"{option} with --resume {run_dir}: a resumed run goes on in its own "
                         f"folder; leave out {option} (or start a new run with --data and --out)")
    for option, name in RESUME_WHAT.items():
        value = getattr(args, option[2:].replace("-", "_"))
        if option in given and value != getattr(opts, name):
            raise UsageError(
                f"{_option_text(option, value)} with --resume {run_dir}: the run trains with "
                f"{_option_text(option, getattr(opts, name))} (its schedule is laid out for "
                f"it); leave out {option} (a resume may change only {RESUME_MAY_CHANGE}), or "
                "start a new run with another --out")
    for name in RESUME_HOW:
        setattr(opts, name, getattr(args, name))  # how to run, not what to train: from now
    recorded = extra.get("data")
    if "--format" in given and "--data" not in given:
        raise UsageError(f"--format with --resume {run_dir}: goes with --data (the run's export "
                         f"was read as {extra.get('format', 'auto')}); give both or neither")
    if "--data" in given:
        data = _check_data(args.data)
        fmt = args.format
    else:
        if not recorded:
            raise UsageError(f"--resume {run_dir}: its last.pt does not say where its data is; "
                             "give the export with --data")
        data, fmt = Path(recorded), extra.get("format", "auto")
        if not data.exists():
            raise UsageError(f"--resume {run_dir}: its data {data} is gone; put the export back "
                             "there, or give its new place with --data")
    return data, opts, run_dir, fmt


def cmd_train(args) -> int:
    # the run folder's lock, released however the run ends; SIGTERM ends it as Ctrl-C does
    with stop_on_sigterm(), contextlib.ExitStack() as held:
        return _train(args, held)


def _train(args, held: contextlib.ExitStack) -> int:
    from .run_splits import load_run_data
    from .training.run_lock import hold_run_folder
    from .training.state import check_run_folder

    if args.resume:
        data, opts, out, fmt = _resume_args(args)
        resume: Path | None = out
        if not _is_ddp_child():  # one run per folder (DDP's other ranks run under rank 0's)
            held.enter_context(hold_run_folder(out, "--resume"))
    else:
        if not args.data:
            raise UsageError("the following arguments are required: --data (or --resume RUN_DIR)")
        data, fmt, resume = _check_data(args.data), args.format, None
        out = Path(args.out) if args.out else _numbered_run_folder()
        if data.is_dir() and _inside(out, data):
            raise UsageError(f"--out {out}: lies inside --data {data}; keep the run's files out "
                             "of the export, choose a folder outside it")
        if not _is_ddp_child():
            check_run_folder(out, exist_ok=args.exist_ok)  # before creating anything
        out = check_output_folder(out, inputs=[data])
        if not _is_ddp_child():
            held.enter_context(hold_run_folder(out))
            check_run_folder(out, exist_ok=args.exist_ok)  # again, now that no one else writes
        opts = _options(args)
    _check_run_options(opts)
    child = _is_ddp_child()
    run_data = load_run_data(data, fmt, opts.seed, check_images=args.check_images)
    train, valid, test, class_map, parser = (run_data.train, run_data.valid, run_data.test,
                                             run_data.class_map, run_data.parser)
    _resolve_auto(opts, train, quiet=child or resume is not None)
    check_trainable(train, valid, opts)
    if not child:
        print(f"{len(train)} train, {len(valid)} valid, {len(test)} test images; "
              f"classes {class_map.foreground}; training {opts.model_name} at {opts.img_size} px "
              f"for {_epochs_text(opts, resume)} ({opts.engine})"
              + (f"; resuming {out}" if resume else "")
              + (f" on --data {data}" if resume and "--data" in _given(args) else ""), flush=True)
        _report_fixes(parser)
    extra = {"category_ids": {int(k): int(v) for k, v in parser.category_ids.items()},
             "data": str(data.resolve()), "format": fmt,
             "split": run_data.split.to_dict()}  # which images validated: eval reads it
    flags = {"check_images": args.check_images or None, "threads": args.threads}
    if resume is None and not child:  # the run record: train --config OUT/args.yaml reruns it
        write_run_args(out, data, fmt, opts, **flags)
    model, ckpt, train_s, _ = _train_and_save(train, valid, class_map, opts, out, extra,
                                                       resume)
    if resume is None and not child and opts.time:  # the epochs the budget fitted
        write_run_args(out, data, fmt, opts, fitted=True, **flags)
    from .runs import process_rank

    if process_rank() != 0 or child:
        return 0  # DDP: rank 0 scores, plots and reports
    final, preds = evaluate(model, valid, show_pbar=not use_epoch_lines(opts))
    final_row = {"valid": final, "train_seconds": round(train_s, 1), "epochs": opts.epochs,
                 "time_budget_s": opts.time}
    save_run(model, class_map, opts, valid, out, final_row, extra, preds)
    print_metrics(f"COCOMetric on {len(valid)} valid images (best epoch, after {train_s:.0f} s of "
                  "training):", final, valid)
    say(f"wrote {ckpt} (= best.pt), {out / 'last.pt'}, {out / 'metrics.csv'}, "
          f"{_run_pictures(out)}")
    _print_class_scores(preds, f"{len(valid)} valid images")
    return 0


def _numbered_run_folder() -> Path:
    """``runs/train``, ``runs/train2``...: the first free one (DDP's other ranks get rank 0's)."""
    import os

    out = next_run_folder()
    if not _is_ddp_child():
        os.environ[RUN_FOLDER_ENV] = str(out)  # the ranks Lightning's DDP starts re-run the command
        print(f"run folder: {out}", flush=True)
    return out


def _run_pictures(out: Path) -> str:
    """The pictures [`save_run`][efficientdet_adapter.runs.save_run] wrote, for the closing line."""
    names = ("curves.png", "pr_curves.png", "confusion_matrix.png", "valid_predictions.png")
    return ", ".join(str(out / n) for n in names if (out / n).is_file())


def _print_class_scores(preds, where: str) -> None:
    """The per-class AP / AP50 table (pycocotools' precision array) of ``preds``."""
    from .class_scores import class_scores, class_table

    print(class_table(class_scores(preds), title=f"per class on {where} (COCO AP over IoU "
                                                  "0.50:0.95, and AP at IoU 0.50):"))


def _resolve_auto(opts: TrainOptions, train, quiet: bool = False) -> None:
    """``--img-size auto`` / ``--anchors auto``: chosen from the training boxes, said in a line."""
    from .auto_options import resolve_auto_options

    for line in resolve_auto_options(opts, train):
        if not quiet:
            print(line, flush=True)


def _epochs_text(opts: TrainOptions, resume) -> str:
    if opts.time:
        left = "--time" if resume is None else "what is left of --time"
        return f"the epochs that fit {left} {opts.time:g} s (at most {opts.epochs})"
    return f"{opts.epochs} epochs"


def _check_run_options(opts: TrainOptions) -> None:
    device = resolve_device(opts.device)
    resolve_precision(opts.precision, device)
    if opts.time and opts.devices * opts.num_nodes > 1:
        raise UsageError(f"--time with --devices {opts.devices} --num-nodes {opts.num_nodes}: "
                         "each process would time its own steps and could fit other epochs; "
                         "give --epochs for multi-device training")
    if opts.devices * opts.num_nodes > 1 and opts.engine != "lightning":
        raise UsageError(f"--devices {opts.devices} --num-nodes {opts.num_nodes}: the fastai "
                         "engine trains on one device; use --engine lightning for multi-GPU (DDP)")


def cmd_eval(args) -> int:
    from .checkpoint import load_for_inference
    from .run_splits import load_run_data, split_note

    data = _check_data(args.data)
    checkpoint = _checkpoint(args.checkpoint)
    out = None
    if args.out:
        out = check_output_file(args.out, inputs=[checkpoint, data])
    device = resolve_device(args.device)
    loaded = load_for_inference(checkpoint, device=device)
    model, class_map = loaded.model, loaded.class_map
    # an export without a valid split: the split the run used (run_splits), or a line saying
    # that it cannot be known
    split, note = split_note(loaded.extra, checkpoint)
    run_data = load_run_data(data, args.format, check_images=args.check_images,
                             split=split if args.split != "test" else None)
    train, valid, test, data_map, parser = (run_data.train, run_data.valid, run_data.test,
                                            run_data.class_map, run_data.parser)
    if note and run_data.split.rule == "holdout" and args.split != "test":
        print(note, flush=True)
    _report_fixes(parser)
    records = {"train": train, "valid": valid, "test": test}[args.split]
    if not records:
        raise UsageError(f"--split {args.split}: the data has no {args.split} images; choose "
                         "another split")
    if data_map.foreground != class_map.foreground:
        raise UsageError(
            f"--data {args.data}: its classes {data_map.foreground} differ from the checkpoint's "
            f"{class_map.foreground}; evaluate on data annotated with the same classes"
        )
    # a bar only where it can redraw itself: piped output would fill with carriage returns
    metrics, preds = evaluate(model, records, device=device, show_pbar=sys.stderr.isatty())
    print_metrics(f"COCOMetric on {len(records)} {args.split} images:", metrics, records)
    _print_class_scores(preds, f"{len(records)} {args.split} images")
    if out is not None:
        atomic_write_text(out, json.dumps(metrics, indent=2))
        say(f"wrote {out}")
    return 0


def _image_files(inputs: Sequence[str], skip: Path | None = None) -> list[Path]:
    """The image files named or found in ``inputs`` (folders are listed recursively by
    [`list_image_files`][efficientdet_adapter.images.list_image_files]: dot-files and hidden folders
    skipped),
    without those under ``skip`` (the output folder: annotated copies of an earlier run are not
    new inputs)."""
    files: list[Path] = []
    for item in inputs:
        path = Path(item)
        if path.is_dir():
            found = [p for p in list_image_files(path, recurse=True)
                     if not (skip is not None and _inside(p, skip))]
            if not found:
                raise UsageError(f"{path}: no images ({', '.join(IMAGE_SUFFIXES)}) in this folder")
            files += found
        elif path.exists() or path.is_symlink():  # a FIFO or a link loop: the reader names it
            files.append(path)
        else:
            raise UsageError(f"{path}: no such image file or folder")
    return files


def _predict_readable(model, files: list[Path], class_map, args) -> tuple[list, dict[Path, str]]:
    """Predictions for every file that reads, in order, and ``{file: why}`` for the others.

    Headers are checked first; a file whose pixels fail to decode makes its batch be retried
    image by image, so one corrupt file costs its batch a second pass, not the whole run.
    """
    from .dataset import Dataset
    from .efficientdet.prediction import inference_tfm, predict
    from .images import oriented_size

    bad: dict[Path, str] = {}
    good = []
    for f in files:
        try:
            oriented_size(f)
            good.append(f)
        except ImageLoadError as e:
            bad[f] = str(e)
    tfm = inference_tfm(model)

    def run(chunk: list[Path]) -> list:
        ds = Dataset.from_images(chunk, tfm, class_map=class_map)
        return predict(model, ds, detection_threshold=args.threshold, batch_size=args.batch_size,
                       device=args.device, tile=getattr(args, "tile", None),
                       overlap=getattr(args, "overlap", 0.25),
                       max_tiles=getattr(args, "max_tiles", None))

    preds = []
    for start in range(0, len(good), args.batch_size):
        chunk = good[start:start + args.batch_size]
        try:
            preds += run(chunk)
        except ImageLoadError:
            for f in chunk:
                try:
                    preds += run([f])
                except ImageLoadError as e:
                    bad[f] = str(e)
    for i, p in enumerate(preds):  # ids over this run's images, as images.json numbers them
        p.record_id = i
    return preds, bad


#: ``predict --max-pixels``'s default: images above it are refused before any work. Peak memory
#: grows with the pixels of the largest image (decoding and resizing it: about 30 bytes a pixel,
#: 36 Mpx in 1.2-1.5 GB; the annotated copies are drawn at most 2048 px a side, whatever the
#: photo). ``bench/predict_memory.py`` measures it.
DEFAULT_MAX_PIXELS = 50_000_000
#: ``--tile`` runs above this many tiles per image print a warning that states the count.
TILE_WARN_COUNT = 400


def _warn_tile_count(files: Sequence[Path], args) -> None:
    """Say how many tiles ``--tile`` cuts the largest image into, when above TILE_WARN_COUNT."""
    tile = getattr(args, "tile", None)
    if not tile:
        return
    from .efficientdet.tiling import MAX_TILES, check_tile_count
    from .images import image_size

    largest: tuple[int, Path, int, int] | None = None
    for f in files:
        try:
            w, h = image_size(f)
        except ImageLoadError:
            continue
        if largest is None or w * h > largest[0]:
            largest = (w * h, f, w, h)
    if largest is None:
        return
    _, f, w, h = largest
    count = check_tile_count(h, w, tile, getattr(args, "overlap", 0.25),  # refused above it
                             max_tiles=getattr(args, "max_tiles", None) or MAX_TILES,
                             name=printable(str(f)), option="--max-tiles")
    if count > TILE_WARN_COUNT:
        print(f"{PROG} predict: warning: --tile {tile[0]},{tile[1]} cuts {printable(str(f))} "
              f"({w}x{h}) into "
              f"{count} tiles, each predicted at the model's size (more than {TILE_WARN_COUNT}: "
              "slow); a larger --tile means fewer", file=sys.stderr)


def cmd_predict(args) -> int:
    from .checkpoint import load_for_inference
    from .video import is_video_name, predict_video, video_outputs

    checkpoint = _checkpoint(args.checkpoint)
    args.device = resolve_device(args.device)
    out, inputs = Path(args.out), [Path(i) for i in args.images]
    videos = [i for i in inputs if i.is_file() and is_video_name(i)]
    # an output folder inside an input folder: its files (an earlier run's) are not inputs
    below = out.exists() and any(i.is_dir() and _inside(out, i) and not _same(out, i)
                                 for i in inputs)
    check_output_folder(out, inputs=inputs, create=False)
    images = [str(i) for i in inputs if i not in videos]
    files = _image_files(images, skip=out if below else None) if images else []
    check_pixels(files, args.max_pixels, option="--max-pixels")
    _warn_tile_count(files, args)
    out = check_output_folder(out, inputs=[*inputs, *files, checkpoint])
    loaded = load_for_inference(checkpoint, device=args.device)
    model, class_map, category_ids = loaded.model, loaded.class_map, loaded.category_ids
    preds, bad = _predict_readable(model, files, class_map, args) if files else ([], {})
    for why in bad.values():
        print(f"{PROG} predict: skipped {printable(why)}", file=sys.stderr)
    if files and not preds:
        raise ImageLoadError(f"none of the {len(files)} images could be read (listed above); "
                             "nothing written")
    if preds:
        also = [name for v in videos for name in video_outputs(v, not args.no_images)]
        results = write_predictions(preds, out, category_ids, min_score=args.threshold,
                                    annotated=not args.no_images, save_txt=args.save_txt,
                                    save_conf=args.save_conf, also_written=also)
        kept = sum(len(p) for p in preds)
        say(f"{kept} detections (score >= {args.threshold}) in {len(preds)} images; wrote "
            f"{results}" + ("" if args.no_images else f" and {len(preds)} annotated images in "
                                                      f"{out}"))
    for video in videos:
        done = predict_video(model, video, out, detection_threshold=args.threshold,
                             batch_size=args.batch_size, device=args.device,
                             annotated=not args.no_images, save_txt=args.save_txt,
                             save_conf=args.save_conf, category_ids=category_ids,
                             class_map=class_map)
        say(f"{done.detections} detections (score >= {args.threshold}) in {done.frames} frames "
            f"of {video}; wrote {done.results}" + (f" and {done.video}" if done.video else ""))
    if bad:
        raise ImageLoadError(f"{len(bad)} of {len(files)} images could not be read and were "
                             f"skipped (listed above); the other {len(preds)} are predicted")
    return 0


def cmd_export(args) -> int:
    from .checkpoint import load_for_inference
    from .weights.export import export_onnx, export_program, export_summary, export_torchscript
    from .weights.hub import is_url

    suffix = EXPORT_SUFFIXES[args.format]
    if args.out:  # checked before any download or work
        check_export_suffix(check_output_file(args.out), args.format)
    checkpoint = _checkpoint(args.checkpoint)
    default = Path(checkpoint.name) if is_url(args.checkpoint) else checkpoint  # a URL: here
    out = check_output_file(args.out or default.with_suffix(suffix), inputs=[checkpoint])
    if args.format == "onnx":
        _need("onnx", "--format onnx", "export")
    if checkpoint.suffix.lower() == ".onnx":
        raise UsageError(f"--checkpoint {checkpoint}: is an export already; export from the "
                         "model.pt it was written from")
    loaded = load_for_inference(checkpoint)
    model = loaded.model
    if args.format == "onnx":
        path = export_onnx(model, out, img_size=args.img_size, opset=args.opset,
                           class_map=loaded.class_map, category_ids=loaded.category_ids)
        say(f"wrote {path}: input 'images' uint8 [B, H, W, 3] RGB, resized and padded; outputs "
            "boxes, scores, classes, num_detections (NMS inside); class names, size and "
            f"normalization in its metadata. Run it: {PROG} predict IMAGES --checkpoint {path}")
    elif args.format == "torch-export":
        path = export_program(model, out, img_size=args.img_size)
    else:
        path = export_torchscript(model, out)
    say(export_summary(model, path, args.format, args.img_size))
    return 0


def _write_demo_data(out: Path, args, start: float) -> int:
    """``demo --data-only``: the synthetic export alone, in ``--format``, summarized as parsed."""
    from .demo import split_summary, write_demo_dataset
    from .parsers import RoboflowParser

    try:
        write_demo_dataset(out, num_images=args.num_images, seed=args.seed, format=args.format)
    except FileExistsError as e:
        raise UsageError(f"--out {out}: {e}") from None
    seconds = time.perf_counter() - start
    parser = RoboflowParser(out)  # read it back: the summary shows what a parser sees
    splits = dict(zip(parser.split_names, parser.parse()))
    say(f"wrote {args.num_images} images as a Roboflow {args.format} export to {out} "
          f"in {seconds:.2f} s")
    print(f"  classes: {', '.join(parser.class_map.foreground)}")
    print("\n".join(split_summary(splits)))
    return 0


def cmd_demo(args) -> int:
    from .training.run_lock import hold_run_folder

    if _is_ddp_child():  # DDP's other ranks run under rank 0's lock
        return _demo(args)
    with stop_on_sigterm(), hold_run_folder(check_output_folder(args.out)):  # as train
        return _demo(args)


def _demo(args) -> int:
    from .demo import write_demo_dataset

    out = check_output_folder(args.out)
    start = time.perf_counter()
    if args.data_only:
        return _write_demo_data(out, args, start)
    if args.format != "coco":
        raise UsageError(f"--format {args.format}: the demo trains on its COCO export; "
                         "other formats need --data-only")
    try:
        data = write_demo_dataset(out / "data", num_images=args.num_images, seed=args.seed)
    except FileExistsError as e:
        raise UsageError(f"--out {out}: {e}") from None
    train, valid, test, class_map, _ = load_splits(data, "coco", args.seed)
    opts = _options(args)
    _resolve_auto(opts, train)
    check_trainable(train, valid, opts)
    print(f"demo data: {len(train)} train, {len(valid)} valid, {len(test)} held-out test images "
          f"in {data}; training {opts.model_name} at {opts.img_size} px for {opts.epochs} epochs "
          f"({opts.engine}, backbone: {opts.pretrained_backbone})")
    model, ckpt, train_s, train_cpu = _train_and_save(train, valid, class_map, opts, out,
                                                               {"demo": True})
    held_out = test or valid
    metrics, preds = evaluate(model, held_out, show_pbar=not use_epoch_lines(opts))
    final = {"test": metrics, "train_seconds": round(train_s, 1),
             "train_cpu_seconds": round(train_cpu, 1),
             "total_seconds": round(time.perf_counter() - start, 1)}
    save_run(model, class_map, opts, valid, out, final, {"demo": True}, preds)
    results = write_predictions([p.with_threshold(0.5) for p in preds], out / "predictions",
                                min_score=0.0)
    print_metrics(f"COCOMetric on {len(held_out)} held-out demo images "
                  f"(training took {train_s:.0f} s):", metrics, held_out)
    say(f"wrote {ckpt}, {out / 'metrics.csv'}, {_run_pictures(out)}, {results} and annotated "
          f"images in {out / 'predictions'}")
    print(f"total time {time.perf_counter() - start:.0f} s")
    return 0


# -- the parser --------------------------------------------------------------------------------
class _ArgumentParser(argparse.ArgumentParser):
    """argparse's own complaints (unknown option, missing argument, bad value) become a
    [`UsageError`][efficientdet_adapter.errors.UsageError], so that every user error leaves `main`
    the same way: one line."""

    def error(self, message: str):  # argparse's hook; it would print the usage and exit 2
        err = UsageError(f"{message} (see {self.prog} --help)")
        err.prog = self.prog  # type: ignore[attr-defined]
        raise err


def _number(kind: type, *, low: float | None = None, high: float | None = None,
            low_open: bool = False, hint: str = "") -> Any:
    """An argparse ``type=`` that parses ``kind`` and checks the range (finite for floats)."""
    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not {_KIND_NAMES[kind]}{hint}") from None
        if kind is float and not math.isfinite(value):
            raise argparse.ArgumentTypeError(f"{text!r} is not a finite number{hint}")
        if low is not None and (value <= low if low_open else value < low):
            bound = f"greater than {low:g}" if low_open else f"at least {low:g}"
            raise argparse.ArgumentTypeError(f"{text} must be {bound}{hint}")
        if high is not None and value > high:
            raise argparse.ArgumentTypeError(f"{text} must be at most {high:g}{hint}")
        return value

    parse.__name__ = kind.__name__  # argparse names the type in some messages
    return parse


_KIND_NAMES = {int: "an integer", float: "a number"}


def _threads(text: str) -> int | str:
    """``--threads``: ``auto`` or an integer of at least 1."""
    return "auto" if text == "auto" else _number(int, low=1, hint=" (or auto)")(text)


def _set_threads(threads: int | str) -> None:
    """Apply ``--threads``; for ``auto``, say so when busy cores made it fewer than PyTorch's
    default."""
    import torch

    if threads != "auto":
        torch.set_num_threads(int(threads))
        return
    from .devices import auto_threads

    n, default, busy = auto_threads()
    if n < default:
        torch.set_num_threads(n)
        print(f"note: {busy:.1f} CPU cores are busy with other work; PyTorch runs on {n} "
              f"thread{'s' if n > 1 else ''}, not {default} (--threads N to choose)",
              file=sys.stderr, flush=True)


def _img_size(text: str) -> int:
    """``--img-size``: a positive multiple of 128 (EfficientDet's largest stride, 2**max_level)
    up to ``MAX_IMG_SIZE``, checked by
    [`normalize_img_size`][efficientdet_adapter.records.normalize_img_size]."""
    from .records import IMG_STRIDE, normalize_img_size

    value = _number(int, low=1)(text)
    try:
        return normalize_img_size(value, stride=IMG_STRIDE, where="--img-size").height
    except AdapterError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def _img_size_or_auto(text: str) -> int | str:
    """``--img-size`` of ``train``/``demo``: `_img_size`, or ``auto``."""
    return "auto" if text.strip().lower() == "auto" else _img_size(text)


def _duration(text: str) -> float:
    """``--time``: seconds, or a number with s/m/h (``10m``, ``1h``)."""
    from .training.budget import parse_duration

    try:
        return parse_duration(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def _add_training_args(p: argparse.ArgumentParser, defaults: TrainOptions) -> None:
    """``train``'s and ``demo``'s training flags, each defaulting to the field of ``defaults``."""
    g = p.add_argument_group("training")
    g.add_argument("--model", default=defaults.model_name,
                   help="effdet model name (default: %(default)s)")
    g.add_argument("--img-size", type=_img_size_or_auto, default=defaults.img_size,
                   help="square input size in pixels, a multiple of 128, or auto: the smallest "
                        "size from 256 at which 95%% of the training boxes have an anchor with "
                        "IoU >= 0.5 (at most 1024 and the largest image side; `check` shows "
                        "that share) (default: %(default)s)")
    g.add_argument("--anchors", choices=ANCHOR_CHOICES, default=defaults.anchors,
                   help="default = effdet's anchors; auto = fit anchor_scale and aspect_ratios "
                        "to the training boxes when that raises the share matched at IoU >= "
                        "0.5 (prints before/after; kept in the checkpoint) (default: "
                        "%(default)s)")
    g.add_argument("--epochs", type=_number(int, low=1), default=None,
                   help=f"training epochs, at least 1 (default: {defaults.epochs}); with --time, "
                        "the most epochs the budget may fit (default then: 300)")
    g.add_argument("--time", type=_duration, default=defaults.time, metavar="DURATION",
                   help="wall-clock budget for training, e.g. 600, 600s, 10m, 1h: a few "
                        "seconds of steps are timed, then the run's steps are planned and "
                        "planned again at each epoch from its measured time, so the last "
                        "epoch (validation and checkpoints included) ends near the budget with "
                        "the one-cycle schedule complete; --epochs caps them; --resume goes on "
                        "with the budget left (default: no budget, --epochs decides)")
    p.set_defaults(default_epochs=defaults.epochs)
    g.add_argument("--batch-size", type=_number(int, low=1), default=defaults.batch_size,
                   help="images per batch, at least 1 (default: %(default)s)")
    g.add_argument("--lr", type=_number(float, low=0, low_open=True), default=defaults.lr,
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
    g.add_argument("--freeze-epochs", type=_number(int, low=0), default=defaults.freeze_epochs,
                   help="epochs with the backbone frozen first (fastai fine_tune; default: "
                        "%(default)s)")
    g.add_argument("--num-workers", type=_number(int, low=0), default=defaults.num_workers,
                   help="DataLoader worker processes (default: %(default)s)")
    g.add_argument("--seed", type=int, default=defaults.seed,
                   help="random seed (default: %(default)s)")
    g.add_argument("--threads", type=_threads, default="auto",
                   help="CPU threads for PyTorch, or auto (the default): one per core that "
                        "other work leaves free, at most PyTorch's choice (on a busy machine "
                        "fewer threads are much faster)")
    g.add_argument("--patience", type=_number(int, low=1), default=defaults.patience, metavar="N",
                   help="early stopping: stop after N epochs without a better validation COCO AP "
                        "(default: train every epoch)")
    g.add_argument("--ema", action="store_true", default=defaults.ema,
                   help="keep an exponential moving average of the weights (timm ModelEmaV3); "
                        "validate it and save it as the model")
    g.add_argument("--small-boxes", choices=SMALL_BOX_CHOICES, default=defaults.small_boxes,
                   help="when most training boxes are below the smallest anchor: remedy = train "
                        "at a larger --img-size (that --time can afford) or with smaller anchors, "
                        "and say which; keep = train as given (default: %(default)s)")
    g.add_argument("--backbone-lr-mult", type=_number(float, low=0, low_open=True),
                   default=defaults.backbone_lr_mult, metavar="M",
                   help="the backbone's peak lr is --lr times M, in (0, 1]; the FPN and heads "
                        "train at --lr (default: %(default)s)")
    g.add_argument("--freeze-bn", action="store_true", default=defaults.freeze_bn,
                   help="keep BatchNorm's running statistics as the weights came (from the "
                        "pretrained backbone); their scale and shift still train")
    g.add_argument("--deterministic", action="store_true", default=defaults.deterministic,
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
    d.add_argument("--devices", type=_number(int, low=1), default=defaults.devices, metavar="N",
                   help="GPUs (or CPU processes) per node; more than 1 trains with Lightning DDP "
                        "(--engine lightning) (default: %(default)s)")
    d.add_argument("--num-nodes", type=_number(int, low=1), default=defaults.num_nodes,
                   metavar="N",
                   help="machines for DDP (--engine lightning) (default: %(default)s)")


def _add_check_images(p: argparse.ArgumentParser, before: str = "training") -> None:
    p.add_argument("--check-images", action="store_true",
                   help=f"open every image header before {before} and compare its size (and EXIF "
                        "rotation) with the annotation, fixing what has one fix and reporting "
                        "it (slower on large data; the same check runs anyway when an image is "
                        "loaded)")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every subcommand (argparse's errors raise
    [`UsageError`][efficientdet_adapter.errors.UsageError])."""
    parser = _ArgumentParser(
        prog=PROG, description="Train, evaluate, run and export EfficientDet object detectors.")
    parser.add_argument("-v", "--verbose", action="store_true", help="log more")
    # the package is imported before any of its modules (an import of it here would be a cycle)
    version = sys.modules[__package__].__version__
    parser.add_argument("--version", action="version", version=f"%(prog)s {version}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    p = sub.add_parser("train", help="train on a dataset export (folder or zip)",
                       description="Train on a Roboflow-style export (COCO, VOC, YOLO or CSV): "
                       "writes best.pt and model.pt (the best epoch's weights), last.pt (every epoch; "
                       "--resume continues from it), metrics.csv and PNGs to --out.")
    p.add_argument("--config", metavar="FILE.yaml",
                   help="read train's options from this YAML file (keys: the long option names, "
                        "e.g. epochs: 20; a run's args.yaml reruns it); flags given here win")
    p.add_argument("--data", help="the export folder, .zip or YOLO data.yaml (required unless "
                                  "--resume)")
    p.add_argument("--format", default="auto", choices=FORMATS_OR_AUTO,
                   help="annotation format (default: %(default)s = detect)")
    p.add_argument("--out", default=None, help="output folder (default: runs/train, then "
                   "runs/train2, runs/train3...); a folder holding an earlier run is refused "
                   "unless --resume or --exist-ok")
    p.add_argument("--resume", metavar="RUN_DIR",
                   help="continue the run in RUN_DIR from its last.pt (its data and options; "
                        "the next epoch starts exactly where the last finished one left off)")
    p.add_argument("--exist-ok", action="store_true",
                   help="train into --out even if it holds an earlier run (its files are replaced)")
    _add_check_images(p)
    _add_training_args(p, TRAIN_DEFAULTS)
    p.set_defaults(func=cmd_train, check=_check_training_args)

    p = sub.add_parser("eval", aliases=["val"],
                       help="score a checkpoint on a dataset (COCOMetric; alias: val)",
                       description="Print COCOMetric of a checkpoint on one split of an export.")
    p.add_argument("--data", required=True, help="the export folder or .zip")
    p.add_argument("--checkpoint", required=True, help=CHECKPOINT_HELP)
    p.add_argument("--format", default="auto", choices=FORMATS_OR_AUTO)
    p.add_argument("--split", default="valid", choices=SPLIT_NAMES,
                   help="which split to score; test = the export's own test split (default: "
                        "%(default)s)")
    p.add_argument("--out", help="also write the metrics to this JSON file")
    p.add_argument("--device", default="auto",
                   help="auto, cpu, cuda or cuda:N; auto = the GPU when there is one "
                        "(default: %(default)s)")
    _add_check_images(p, "scoring")
    p.set_defaults(func=cmd_eval)

    p = sub.add_parser("predict", help="detect objects in images",
                       description="Detect objects in image files, folders and video files: "
                       "writes annotated copies (in each image's own format), predictions.json "
                       "(COCO results) and images.json to --out, a folder apart from the inputs; "
                       "for a video, an annotated <video>.mp4 and <video>.jsonl (one line of "
                       "results per frame). Unreadable images are listed and skipped (exit "
                       "status 2 after predicting the others).")
    p.add_argument("images", nargs="+",
                   help="image files or folders, or video files "
                        f"({', '.join(VIDEO_EXTENSIONS)})")
    p.add_argument("--checkpoint", required=True, help=CHECKPOINT_HELP)
    p.add_argument("--out", required=True, help="output folder (not an input folder)")
    p.add_argument("--threshold", type=_number(float, low=0, high=1), default=0.5,
                   help="keep detections scoring at least this, 0..1 (default: %(default)s)")
    p.add_argument("--batch-size", type=_number(int, low=1), default=8,
                   help="images per batch, at least 1 (default: %(default)s)")
    p.add_argument("--device", default="auto",
                   help="auto, cpu, cuda or cuda:N; auto = the GPU when there is one "
                        "(default: %(default)s)")
    p.add_argument("--no-images", action="store_true",
                   help="write only the JSON files (no annotated images or videos)")
    p.add_argument("--save-txt", action="store_true",
                   help="also write YOLO labels, one labels/<image>.txt per image (and "
                        "<video>_<frame>.txt per frame): class cx cy w h, normalized, class "
                        "0-based without the background")
    p.add_argument("--save-conf", action="store_true",
                   help="with --save-txt: add each detection's score to its line")
    p.add_argument("--max-pixels", type=_number(int, low=1), default=DEFAULT_MAX_PIXELS,
                   metavar="N",
                   help="refuse images of more than N pixels (memory grows with them, about "
                        "30 bytes a pixel; default: %(default)s)")
    _add_tile_args(p)
    p.set_defaults(func=cmd_predict)

    p = sub.add_parser("export", help="export a checkpoint to ONNX, torch.export or TorchScript",
                       description="Export a checkpoint. onnx (.onnx): uint8 images in, final "
                       "detections out (NMS inside), class names, size and normalization in its "
                       "metadata; predict and eval run it. torch-export (.pt2, a torch.export "
                       "program): outputs boxes, scores, classes before NMS. "
                       "torchscript (.ts): the bare network's per-level outputs; deprecated "
                       "by torch, kept while torch ships it.")
    p.add_argument("--checkpoint", required=True, help=CHECKPOINT_HELP)
    p.add_argument("--format", default="onnx", choices=tuple(EXPORT_SUFFIXES),
                   help="onnx, torch-export, or torchscript (deprecated) (default: %(default)s)")
    p.add_argument("--out", help="output file (default: beside the checkpoint)")
    p.add_argument("--img-size", type=_img_size,
                   help="ONNX/torch-export input size, a multiple of 128 (default: the model's)")
    p.add_argument("--opset", type=_number(int, low=ONNX_OPSETS[0], high=ONNX_OPSETS[1]),
                   default=17, help=f"ONNX opset, {ONNX_OPSETS[0]}..{ONNX_OPSETS[1]} "
                   "(default: %(default)s)")
    p.set_defaults(func=cmd_export)

    p = sub.add_parser("demo", help="train on the synthetic demo data and score held-out images",
                       description="Write the synthetic shapes dataset, train "
                       "tf_efficientdet_lite0 (packaged ImageNet backbone), print COCOMetric on "
                       "the held-out test images, write predictions and plots to --out.")
    p.add_argument("--out", default="runs/demo", help="output folder (default: %(default)s)")
    p.add_argument("--num-images", type=_number(int, low=MIN_DEMO_IMAGES),
                   default=DEMO_NUM_IMAGES,
                   help=f"images to generate over train/valid/test, at least {MIN_DEMO_IMAGES} "
                        "(default: %(default)s)")
    p.add_argument("--data-only", action="store_true",
                   help="write the synthetic export to --out and stop (no training)")
    p.add_argument("--format", default="coco", choices=FORMATS,
                   help="annotation format of the export with --data-only "
                        "(default: %(default)s)")
    _add_training_args(p, DEMO_DEFAULTS)
    p.set_defaults(func=cmd_demo, check=_check_training_args)
    _add_check_command(sub)
    return parser


# -- tiles and check (issue #13) ----------------------------------------------------------------
def _tile(text: str) -> tuple[int, int]:
    """``--tile H,W`` (or ``--tile N`` for a square): a tile size in original pixels."""
    parts = text.replace("x", ",").split(",")
    try:
        values = tuple(int(v) for v in parts)
    except ValueError:
        values = ()
    if len(values) == 1:
        values = values * 2
    if len(values) != 2 or min(values) < 16:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a tile size: give H,W in pixels, each at least 16 (e.g. 512,512)")
    return values


def _overlap(text: str) -> float | int:
    """``--overlap``: a fraction of the tile below 1 (0.25) or pixels (64)."""
    value = _number(float, low=0)(text)
    return value if value < 1 else int(value)


def _add_tile_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--tile", type=_tile, default=None, metavar="H,W",
                   help="predict each image in overlapping H x W tiles (original pixels) and "
                        "merge them with NMS: finds small objects in large images (default: "
                        "the whole image at once)")
    p.add_argument("--max-tiles", type=_number(int, low=1), default=None, metavar="N",
                   help="refuse an image that --tile cuts into more than N tiles, each a whole "
                        "prediction (default: efficientdet_adapter.efficientdet.tiling.MAX_TILES)")
    p.add_argument("--overlap", type=_overlap, default=0.25,
                   help="between tiles: a fraction of the tile (<1) or pixels, at most half a "
                        "tile (default: %(default)s)")


def cmd_check(args) -> int:
    from .check import check_dataset

    data = _check_data(args.data)
    png = Path(args.png) if args.png else None
    if png is not None:
        if data.is_dir() and _inside(png, data):
            raise UsageError(f"--png {png}: lies inside --data {data}; keep the report out of "
                             "the export, choose a file outside it")
        png = check_output_file(png, "--png", inputs=[data])
    report = check_dataset(data, img_size=args.img_size, model_name=args.model,
                           format=args.format)
    say(report.table())
    if png is not None:
        say(f"wrote {report.save_png(png)}")
    return 0


def _add_check_command(sub) -> None:
    p = sub.add_parser("check", help="a dataset health report before training",
                       description="Check an export before training: images and boxes per split "
                       "and class, images without boxes, boxes too small for the model's "
                       "smallest anchor at --img-size, parse fixes, near-duplicate images across "
                       "splits, class imbalance. Prints a table; --png saves a summary picture.")
    p.add_argument("--data", required=True, help="the export folder or .zip")
    p.add_argument("--format", default="auto", choices=FORMATS_OR_AUTO,
                   help="annotation format (default: %(default)s = detect)")
    p.add_argument("--img-size", type=_img_size_or_auto, default=TRAIN_DEFAULTS.img_size,
                   help="the --img-size you will train at, or auto: the size train --img-size "
                        "auto picks (default: %(default)s, train's)")
    p.add_argument("--model", default="tf_efficientdet_lite0",
                   help="effdet model whose anchors the boxes are compared with (default: "
                        "%(default)s)")
    p.add_argument("--png", default=None, help="also save the summary as this PNG file")
    p.set_defaults(func=cmd_check)


def say(text: str) -> None:
    """Print ``text`` (one or more lines) to stdout with the control characters of any file
    name in it escaped (`printable`)."""
    print("\n".join(printable(line) for line in str(text).split("\n")), flush=True)


def _one_line(e: BaseException) -> str:
    """The first line of the message; for an error re-raised from a DataLoader worker (whose
    first line is only "Caught ImageLoadError in DataLoader worker process 1."), the original
    message, which names the file."""
    text = str(e).strip()
    lines = text.splitlines()
    if len(lines) > 1 and lines[0].startswith("Exception occured in `"):
        lines = [ln.strip() for ln in lines[1:]]  # fastai's note on which callback raised it
    if lines and lines[0].startswith("Caught ") and "worker" in lines[0]:
        prefix = f"{type(e).__module__}.{type(e).__qualname__}: "
        original = [ln for ln in lines if ln.startswith((prefix, type(e).__name__ + ": "))]
        if original:
            return original[-1].split(": ", 1)[1]
    return lines[0] if lines else type(e).__name__


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status (2 for user errors).

    Every error of the library's own family
    ([`AdapterError`][efficientdet_adapter.errors.AdapterError],
    argparse's complaints included) is printed as one line, ``efficientdet-adapter <command>:
    error: <what, where, what to do>``, on stderr; anything else is a bug and keeps its traceback.
    """
    prog = PROG
    try:
        parser = build_parser()
        argv = list(sys.argv[1:] if argv is None else argv)
        args = parser.parse_args(argv)
        expanded = expand_config(parser, argv, args)  # --config: its flags, then the written ones
        if expanded is not None:
            args = parser.parse_args(expanded)
            argv = expanded
        args.argv = argv  # which options were given (the config file's included)
        prog = f"{PROG} {args.command}"
        logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                            format="%(levelname)s %(name)s: %(message)s")
        if getattr(args, "check", None) is not None:
            args.check(args)
        if getattr(args, "threads", None) is not None:
            _set_threads(args.threads)
        return int(args.func(args) or 0)
    except AdapterError as e:
        prog = getattr(e, "prog", prog)
        print(f"{prog}: error: {printable(_one_line(e))}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as e:
        print(f"{prog}: {str(e) or 'interrupted'}", file=sys.stderr)
        return getattr(e, "exit_code", 130)  # 143 after SIGTERM


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
