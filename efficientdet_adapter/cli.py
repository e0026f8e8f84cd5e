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
from .devices import PRECISIONS, resolve_device, resolve_precision
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
from .images import list_image_files  # noqa: E402  (the one lister)
from .parsers.formats import FORMATS  # noqa: E402  (the one list of annotation formats)
ONNX_OPSETS = (11, 20)  # effdet's padding needs opset 11; 20 is the TorchScript exporter's last
#: export's formats and the suffix of the file each writes
EXPORT_SUFFIXES = {"onnx": ".onnx", "torch-export": ".pt2", "torchscript": ".ts"}
MIN_DEMO_IMAGES = 10  # 7 train, 2 valid, 1 test
BACKBONE_CHOICES = ("auto", "none", "false", "no", "hub", "true", "imagenet-lite0",
                    "lite0-package", "imagenet-lite1", "lite1-package", "imagenet-lite2",
                    "lite2-package")
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


def _check_data(value: str) -> Path:
    from .weights.hub import is_url

    if is_url(value):
        raise UsageError(f"--data {value}: URLs are not accepted; download the export and give "
                         "its folder or .zip")
    path = Path(value)
    if not path.exists():
        raise UsageError(f"--data {path}: no such folder or zip file; give a dataset export")
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
    _need("fastai" if args.engine == "fastai" else "lightning|pytorch_lightning",
          f"--engine {args.engine}", args.engine)


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
        pretrained_backbone=args.pretrained_backbone, freeze_epochs=args.freeze_epochs,
        num_workers=args.num_workers, seed=args.seed, aug=args.aug,
        patience=args.patience, ema=args.ema, device=args.device, precision=args.precision,
        devices=args.devices, num_nodes=args.num_nodes, deterministic=args.deterministic,
        progress=args.progress, anchors=args.anchors, time=args.time,
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
    except KeyboardInterrupt:
        last = out / "last.pt"
        kept = (f"{last} keeps the last finished epoch; continue with: {PROG} train --resume "
                f"{out}") if last.is_file() else "no epoch had finished, nothing to resume"
        raise _Interrupted(f"training interrupted; {kept}") from None
    seconds, cpu = time.perf_counter() - t0, time.process_time() - cpu0
    from .runs import process_rank

    if process_rank() != 0 or _is_ddp_child():
        return model, None, seconds, cpu
    ckpt = save_model(model, class_map, opts, out, extra)
    return model, ckpt, seconds, cpu


class _Interrupted(KeyboardInterrupt):
    """Ctrl-C during training, with the line that says how to resume."""


def _report_fixes(parser) -> None:
    report = getattr(parser, "report", None)
    if report is not None and report.total:
        print(f"parse: {report.summary()}", file=sys.stderr)


#: ``train --resume``: options that say how to run (applied from now on), and those that say what
#: the run trains (its own, from last.pt: given with another value, refused)
RESUME_HOW = ("device", "precision", "num_workers", "progress", "devices", "num_nodes")
RESUME_WHAT = {"--model": "model_name", "--img-size": "img_size", "--epochs": "epochs",
               "--batch-size": "batch_size", "--lr": "lr", "--engine": "engine",
               "--pretrained-backbone": "pretrained_backbone", "--aug": "aug",
               "--freeze-epochs": "freeze_epochs", "--seed": "seed", "--patience": "patience",
               "--ema": "ema", "--deterministic": "deterministic"}


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
    from now on; what the run trains (``--epochs``, ``--lr``, ``--model``, ...) is the run's own,
    and a different value is refused (the schedule was laid out for it: start a new run instead);
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
                f"{option} {value} with --resume {run_dir}: the run trains with {option} "
                f"{getattr(opts, name)} (its schedule is laid out for it); leave out {option}, "
                "or start a new run with another --out")
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
    with contextlib.ExitStack() as held:  # the run folder's lock, released however the run ends
        return _train(args, held)


def _train(args, held: contextlib.ExitStack) -> int:
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
        out = Path(args.out)
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
    train, valid, test, class_map, parser = load_splits(data, fmt, opts.seed,
                                                        check_images=args.check_images)
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
             "data": str(data.resolve()), "format": fmt}
    model, ckpt, train_s, _ = _train_and_save(train, valid, class_map, opts, out, extra,
                                                       resume)
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
    if opts.time and resume is None:
        return f"the epochs that fit --time {opts.time:g} s (at most {opts.epochs})"
    return f"{opts.epochs} epochs" + (f" (fitted to --time {opts.time:g} s)" if opts.time else "")


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
    from .checkpoint import load_model

    checkpoint = _check_file(args.checkpoint, "--checkpoint", "a model.pt written by train")
    data = _check_data(args.data)
    out = None
    if args.out:
        out = check_output_file(args.out, inputs=[checkpoint, data])
    device = resolve_device(args.device)
    model, class_map, _ = load_model(checkpoint, device=device)
    train, valid, test, data_map, parser = load_splits(data, args.format,
                                                       check_images=args.check_images)
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
        elif path.is_file():
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
                       overlap=getattr(args, "overlap", 0.25))

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


def _check_pixels(files: Sequence[Path], limit: int) -> None:
    """Refuse, by their headers, images above ``limit`` pixels (``--max-pixels``)."""
    from PIL import Image

    from .images import image_size

    # PIL refuses images above twice its own limit as decompression bombs: the user's limit
    # rules here (a file above it is refused below, by its header, before it is decoded)
    Image.MAX_IMAGE_PIXELS = max(Image.MAX_IMAGE_PIXELS or 0, limit)
    for f in files:
        try:
            w, h = image_size(f)
        except ImageLoadError:
            continue  # listed and skipped with the other unreadable files
        if w * h > limit:
            raise UsageError(
                f"{f}: {w}x{h} = {w * h / 1e6:.1f} Mpx, more than --max-pixels {limit} "
                f"({limit / 1e6:g} Mpx); memory grows with the pixels (about 30 bytes each): "
                f"raise --max-pixels to {w * h} if the machine has the memory, or resize it")


def _warn_tile_count(files: Sequence[Path], args) -> None:
    """Say how many tiles ``--tile`` cuts the largest image into, when above TILE_WARN_COUNT."""
    tile = getattr(args, "tile", None)
    if not tile:
        return
    from .efficientdet.tiling import tile_grid
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
    count = len(tile_grid(h, w, tile, getattr(args, "overlap", 0.25)))
    if count > TILE_WARN_COUNT:
        print(f"{PROG} predict: warning: --tile {tile[0]},{tile[1]} cuts {printable(str(f))} "
              f"({w}x{h}) into "
              f"{count} tiles, each predicted at the model's size (more than {TILE_WARN_COUNT}: "
              "slow); a larger --tile means fewer", file=sys.stderr)


def cmd_predict(args) -> int:
    from .checkpoint import load_checkpoint_data, model_from_data

    checkpoint = _check_file(args.checkpoint, "--checkpoint", "a model.pt written by train")
    args.device = resolve_device(args.device)
    out, inputs = Path(args.out), [Path(i) for i in args.images]
    # an output folder inside an input folder: its files (an earlier run's) are not inputs
    below = out.exists() and any(i.is_dir() and _inside(out, i) and not _same(out, i)
                                 for i in inputs)
    check_output_folder(out, inputs=inputs, create=False)
    files = _image_files(args.images, skip=out if below else None)
    _check_pixels(files, args.max_pixels)
    _warn_tile_count(files, args)
    out = check_output_folder(out, inputs=[*inputs, *files, checkpoint])
    data = load_checkpoint_data(checkpoint)  # read once: the model and the file's extra
    model, class_map, _ = model_from_data(data, path=checkpoint, device=args.device)
    extra = data.get("extra", {}) or {}
    category_ids = {int(k): int(v) for k, v in (extra.get("category_ids") or {}).items()} or None
    preds, bad = _predict_readable(model, files, class_map, args)
    for why in bad.values():
        print(f"{PROG} predict: skipped {printable(why)}", file=sys.stderr)
    if not preds:
        raise ImageLoadError(f"none of the {len(files)} images could be read (listed above); "
                             "nothing written")
    results = write_predictions(preds, out, category_ids, min_score=args.threshold,
                                annotated=not args.no_images)
    kept = sum(len(p) for p in preds)
    say(f"{kept} detections (score >= {args.threshold}) in {len(preds)} images; wrote "
          f"{results}" + ("" if args.no_images else f" and {len(preds)} annotated PNGs in {out}"))
    if bad:
        raise ImageLoadError(f"{len(bad)} of {len(files)} images could not be read and were "
                             f"skipped (listed above); the other {len(preds)} are predicted")
    return 0


def cmd_export(args) -> int:
    from .checkpoint import load_model
    from .weights.export import export_onnx, export_program, export_torchscript

    checkpoint = _check_file(args.checkpoint, "--checkpoint", "a model.pt written by train")
    suffix = EXPORT_SUFFIXES[args.format]
    out = check_output_file(args.out or checkpoint.with_suffix(suffix), inputs=[checkpoint])
    if args.format == "onnx":
        _need("onnx", "--format onnx", "export")
    model, _, config = load_model(checkpoint)
    if args.format == "onnx":
        path = export_onnx(model, out, img_size=args.img_size, opset=args.opset)
        say(f"wrote {path}: input 'images' [B, 3, H, W] normalized with mean {config.mean}, "
              f"std {config.std}; outputs boxes, scores, classes (NMS: "
              "efficientdet_adapter.efficientdet.onnx_postprocess)")
    elif args.format == "torch-export":
        path = export_program(model, out, img_size=args.img_size)
        say(f"wrote {path}: torch.export.load(path).module()(images), images [B, 3, H, W] "
              f"normalized with mean {config.mean}, std {config.std}; outputs boxes, scores, "
              "classes (NMS: efficientdet_adapter.efficientdet.onnx_postprocess)")
    else:
        path = export_torchscript(model, out)
        say(f"wrote {path} (TorchScript is deprecated by torch: prefer --format torch-export)")
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
    with hold_run_folder(check_output_folder(args.out)):  # one run per folder, as train
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
          f"PNGs in {out / 'predictions'}")
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
                        "training steps and a validation pass are timed first, then the epochs "
                        "are set so the one-cycle schedule (validation and checkpoints "
                        "included) ends inside it; --epochs caps them; --resume keeps the "
                        "epochs chosen (default: no budget, --epochs decides)")
    p.set_defaults(default_epochs=defaults.epochs)
    g.add_argument("--batch-size", type=_number(int, low=1), default=defaults.batch_size,
                   help="images per batch, at least 1 (default: %(default)s)")
    g.add_argument("--lr", type=_number(float, low=0, low_open=True), default=defaults.lr,
                   help="peak learning rate of the one-cycle schedule (default: %(default)s)")
    g.add_argument("--engine", choices=("fastai", "lightning"), default=defaults.engine,
                   help="training loop (default: %(default)s)")
    g.add_argument("--pretrained-backbone", default=defaults.pretrained_backbone,
                   metavar="auto|none|hub|imagenet-lite0|imagenet-lite1|imagenet-lite2|FILE",
                   help="backbone weights: auto = the packaged ImageNet Lite0/1/2 weights for "
                        "tf_efficientdet_lite0/1/2 (offline), none otherwise (default: "
                        "%(default)s)")
    g.add_argument("--aug", choices=("full", "flip", "scale", "none"), default=defaults.aug,
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
    g.add_argument("--threads", type=_number(int, low=1), default=None,
                   help="CPU threads for PyTorch (default: PyTorch's choice; 1 is faster on a "
                        "busy machine)")
    g.add_argument("--patience", type=_number(int, low=1), default=defaults.patience, metavar="N",
                   help="early stopping: stop after N epochs without a better validation COCO AP "
                        "(default: train every epoch)")
    g.add_argument("--ema", action="store_true", default=defaults.ema,
                   help="keep an exponential moving average of the weights (timm ModelEmaV3); "
                        "validate it and save it as the model")
    g.add_argument("--deterministic", action="store_true", default=defaults.deterministic,
                   help="torch.use_deterministic_algorithms (warn-only): repeatable runs, slower")
    g.add_argument("--progress", choices=("auto", "bar", "lines"), default=defaults.progress,
                   help="a progress bar, or one line per epoch; auto = a bar in a terminal, "
                        "lines otherwise (default: %(default)s)")
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


def _add_check_images(p: argparse.ArgumentParser) -> None:
    p.add_argument("--check-images", action="store_true",
                   help="open every image header before training and compare its size (and EXIF "
                        "rotation) with the annotation, fixing what has one fix and reporting "
                        "it (slower on large data; the same check runs anyway when an image is "
                        "loaded)")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every subcommand (argparse's errors raise
    [`UsageError`][efficientdet_adapter.errors.UsageError])."""
    parser = _ArgumentParser(
        prog=PROG, description="Train, evaluate, run and export EfficientDet object detectors.")
    parser.add_argument("-v", "--verbose", action="store_true", help="log more")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    p = sub.add_parser("train", help="train on a dataset export (folder or zip)",
                       description="Train on a Roboflow-style export (COCO, VOC, YOLO or CSV): "
                       "writes best.pt and model.pt (the best epoch's weights), last.pt (every epoch; "
                       "--resume continues from it), metrics.csv and PNGs to --out.")
    p.add_argument("--data", help="the export folder or .zip (required unless --resume)")
    p.add_argument("--format", default="auto", choices=("auto", *FORMATS),
                   help="annotation format (default: %(default)s = detect)")
    p.add_argument("--out", default="runs/train", help="output folder (default: %(default)s); "
                   "a folder holding an earlier run is refused unless --resume or --exist-ok")
    p.add_argument("--resume", metavar="RUN_DIR",
                   help="continue the run in RUN_DIR from its last.pt (its data and options; "
                        "the next epoch starts exactly where the last finished one left off)")
    p.add_argument("--exist-ok", action="store_true",
                   help="train into --out even if it holds an earlier run (its files are replaced)")
    _add_check_images(p)
    _add_training_args(p, TRAIN_DEFAULTS)
    p.set_defaults(func=cmd_train, check=_check_training_args)

    p = sub.add_parser("eval", help="score a checkpoint on a dataset (COCOMetric)",
                       description="Print COCOMetric of a checkpoint on one split of an export.")
    p.add_argument("--data", required=True, help="the export folder or .zip")
    p.add_argument("--checkpoint", required=True, help="a model.pt written by train or demo")
    p.add_argument("--format", default="auto", choices=("auto", *FORMATS))
    p.add_argument("--split", default="valid", choices=("train", "valid", "test"),
                   help="which split to score; test = the export's own test split (default: "
                        "%(default)s)")
    p.add_argument("--out", help="also write the metrics to this JSON file")
    p.add_argument("--device", default="auto",
                   help="auto, cpu, cuda or cuda:N; auto = the GPU when there is one "
                        "(default: %(default)s)")
    _add_check_images(p)
    p.set_defaults(func=cmd_eval)

    p = sub.add_parser("predict", help="detect objects in images",
                       description="Detect objects in image files or folders: writes annotated "
                       "PNGs, predictions.json (COCO results) and images.json to --out, a folder "
                       "apart from the inputs. Unreadable images are listed and skipped (exit "
                       "status 2 after predicting the others).")
    p.add_argument("images", nargs="+", help="image files or folders")
    p.add_argument("--checkpoint", required=True, help="a model.pt written by train or demo")
    p.add_argument("--out", required=True, help="output folder (not an input folder)")
    p.add_argument("--threshold", type=_number(float, low=0, high=1), default=0.5,
                   help="keep detections scoring at least this, 0..1 (default: %(default)s)")
    p.add_argument("--batch-size", type=_number(int, low=1), default=8,
                   help="images per batch, at least 1 (default: %(default)s)")
    p.add_argument("--device", default="auto",
                   help="auto, cpu, cuda or cuda:N; auto = the GPU when there is one "
                        "(default: %(default)s)")
    p.add_argument("--no-images", action="store_true", help="write only the JSON files")
    p.add_argument("--max-pixels", type=_number(int, low=1), default=DEFAULT_MAX_PIXELS,
                   metavar="N",
                   help="refuse images of more than N pixels (memory grows with them, about "
                        "30 bytes a pixel; default: %(default)s)")
    _add_tile_args(p)
    p.set_defaults(func=cmd_predict)

    p = sub.add_parser("export", help="export a checkpoint to ONNX, torch.export or TorchScript",
                       description="Export a checkpoint. onnx (.onnx) and torch-export (.pt2, a "
                       "torch.export program): outputs boxes, scores, classes before NMS. "
                       "torchscript (.ts): deprecated by torch, kept while torch ships it; "
                       "non-lite models only (e.g. efficientdet_d0).")
    p.add_argument("--checkpoint", required=True, help="a model.pt written by train or demo")
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
    p.add_argument("--format", default="auto", choices=("auto", *FORMATS),
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


def printable(text: str) -> str:
    r"""``text`` with terminal control characters (ESC, BEL, carriage return, bidi overrides...)
    written as Python escapes, so that a file name cannot drive the terminal.

    Example:
        >>> print(printable("a\x1b[2Jb.png"))
        a\x1b[2Jb.png
    """
    import unicodedata

    return "".join(c if unicodedata.category(c) not in ("Cc", "Cf", "Cs", "Co") or c == " "
                   else c.encode("unicode_escape").decode("ascii") for c in text)


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
        args = build_parser().parse_args(argv)
        args.argv = list(sys.argv[1:] if argv is None else argv)  # which options were written
        prog = f"{PROG} {args.command}"
        logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                            format="%(levelname)s %(name)s: %(message)s")
        if getattr(args, "check", None) is not None:
            args.check(args)
        if getattr(args, "threads", None):
            import torch

            torch.set_num_threads(args.threads)
        return int(args.func(args) or 0)
    except AdapterError as e:
        prog = getattr(e, "prog", prog)
        print(f"{prog}: error: {printable(_one_line(e))}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as e:
        print(f"{prog}: {str(e) or 'interrupted'}", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
