"""A training run, as the command line does it: options, data, the fit and its files.

``train_model`` fits with either engine
([`engines.fastai.fit`][efficientdet_adapter.engines.fastai.fit],
[`engines.lightning.fit`][efficientdet_adapter.engines.lightning.fit]);
with a run folder, the run's [`RunTracker`][efficientdet_adapter.training.state.RunTracker] writes
one row per epoch to
``metrics.csv`` (and ``best.pt``, ``last.pt``, TensorBoard). ``save_run`` writes what a finished
run adds: ``model.pt`` with the final metrics, and the pictures (``curves.png``,
``pr_curves.png``, ``confusion_matrix.png``, ``valid_predictions.png``). ``train``, ``demo``
([`cli`][efficientdet_adapter.cli]) and the Python API write the same files, with these two
functions.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .atomic import atomic_save, atomic_write_text
from .errors import UsageError

__all__ = [
    "TrainOptions",
    "DEMO_OPTIONS",
    "DEMO_NUM_IMAGES",
    "use_epoch_lines",
    "check_trainable",
    "load_splits",
    "train_model",
    "evaluate",
    "write_predictions",
    "save_model",
    "save_run",
    "print_metrics",
]

logger = logging.getLogger(__name__)


# -- options and data ------------------------------------------------------------------------------
@dataclass
class TrainOptions:
    """What ``train`` and ``demo`` train with; the one home of their defaults.

    ``efficientdet-adapter train``'s flags take their defaults from ``TrainOptions()`` (and
    ``demo``'s from `DEMO_OPTIONS`), so the command line and the Python API agree. The
    defaults were chosen by ``bench/real_data.py`` on the shared real exports (docs/benchmarks.md):
    at 240 CPU s per export and three seeds, 256 px + flips + a peak lr of 5e-3 reach
    a mean valid AP50 of 0.36 (brain MRI) and 0.28 (game screenshots), with lr 1e-2 0.17 and 0.32
    (one brain-MRI seed at 0.01); the former ones (384 px, IceVision's full augmentation, lr 3e-3)
    0.001 on both.

    Example:
        >>> opts = TrainOptions(epochs=3)
        >>> opts.img_size, opts.aug, opts.lr, opts.engine
        (256, 'flip', 0.005, 'fastai')
    """

    model_name: str = "tf_efficientdet_lite0"
    img_size: int | str = 256  # "auto": chosen from the training boxes (auto_options)
    epochs: int = 10  # with ``time``: the most epochs, the budget fits the number
    batch_size: int = 8
    lr: float = 5e-3  # peak of the one-cycle schedule
    engine: str = "fastai"
    pretrained_backbone: str = "auto"
    freeze_epochs: int = 0
    num_workers: int = 0
    seed: int = 0
    aug: str = "flip"  # full (IceVision's aug_tfms), flip or none
    extra: dict[str, Any] = field(default_factory=dict)
    patience: int | None = None  # early stopping: epochs without a better validation AP
    ema: bool = False  # validate and save an EMA of the weights (timm's ModelEmaV3)
    ema_decay: float = 0.9998
    device: str = "auto"  # auto, cpu, cuda or cuda:N
    precision: str = "auto"  # auto, 32, 16-mixed, bf16-mixed (see devices)
    devices: int = 1  # processes per node (Lightning DDP when devices * num_nodes > 1)
    num_nodes: int = 1
    deterministic: bool = False  # torch.use_deterministic_algorithms (warn-only)
    progress: str = "auto"  # auto (a bar in a terminal, else one line per epoch), bar, lines
    anchors: str = "default"  # default (effdet's) or auto (fitted: auto_options)
    anchor_settings: dict[str, Any] = field(default_factory=dict)  # effdet anchor overrides
    time: float | None = None  # wall-clock budget in seconds (training.budget); None: epochs

    def __post_init__(self) -> None:
        """Counts and rates of the right type and range, checked when the options are made."""
        from .arguments import positive_int

        for name in ("epochs", "batch_size", "devices", "num_nodes"):
            positive_int(getattr(self, name), name)
        for name in ("freeze_epochs", "num_workers"):
            positive_int(getattr(self, name), name, low=0)
        if self.patience is not None:
            positive_int(self.patience, "patience")
        if isinstance(self.lr, bool) or not isinstance(self.lr, (int, float)) \
                or not math.isfinite(self.lr) or self.lr <= 0:
            from .errors import ArgumentError

            raise ArgumentError(f"lr={self.lr!r}: pass a positive number (the one-cycle "
                                "schedule's peak), e.g. lr=0.005")

    def to_dict(self) -> dict[str, Any]:
        """Plain data, as saved in ``last.pt`` for ``--resume``."""
        return {k: v for k, v in dataclasses.asdict(self).items() if k != "extra"}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "TrainOptions":
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})


#: What ``efficientdet-adapter demo`` trains with: ``train``'s defaults for 12 epochs at a peak lr
#: of 1e-2 (measured on 2 shared CPU cores: held-out AP50 0.84-0.88 on the synthetic shapes).
DEMO_OPTIONS = TrainOptions(epochs=12, lr=1e-2)
#: Images ``demo`` generates over train/valid/test.
DEMO_NUM_IMAGES = 240


def _backbone_weights(opts: TrainOptions) -> Any:
    choice = opts.pretrained_backbone
    if choice == "auto":  # the packaged ImageNet backbone that works offline, else none
        from .version_compat import import_quietly  # effdet's import-time notices: not the user's
        efficientdet_model_param_dict = import_quietly(
            "effdet.config.model_config").efficientdet_model_param_dict

        from .weights.packaged import packaged_backbone_for

        config = efficientdet_model_param_dict.get(opts.model_name) or {}
        packaged = packaged_backbone_for(config.get("backbone_name", ""))
        if packaged is not None:  # tf_efficientdet_lite0/1/2
            return packaged.name
        logger.warning("no offline pretrained backbone for %s: training from scratch",
                       opts.model_name)
        return False
    if choice in ("none", "false", "no"):
        return False
    if choice in ("hub", "true"):
        return True
    return choice  # "imagenet-lite0/1/2" or a file


def load_splits(data: str | Path, format: str = "auto", seed: int = 0, *,
                check_images: bool = False):
    """``(train, valid, test, class_map, parser)`` of a Roboflow-style export (folder or zip).

    Without a ``valid`` split, 20% of ``train`` (seeded) validates; ``test`` may be empty.
    ``check_images``: compare every image header with its annotation first (see
    [`Parser`][efficientdet_adapter.parsers.base.Parser]).
    """
    from .parsers import RandomSplitter, RoboflowParser

    from .weights.hub import is_url

    if is_url(str(data)):
        raise UsageError(f"--data {data}: URLs are not accepted; download the export and give "
                         "its folder or .zip")
    path = Path(data)
    if not path.exists():
        raise UsageError(f"--data {path}: no such folder or zip file")
    parser = RoboflowParser(path, format=format, check_images=check_images)
    splits = parser.parse_splits()
    train, valid, test = (splits.get(k, []) for k in ("train", "valid", "test"))
    if not train:
        raise UsageError(f"--data {path}: the export has no train split with images")
    if not valid:
        by_id = {r.record_id: r for r in train}
        train_ids, valid_ids = RandomSplitter([0.8, 0.2], seed=seed).split(train)
        train, valid = [by_id[i] for i in train_ids], [by_id[i] for i in valid_ids]
        logger.info("no valid split: holding out %d of the train images", len(valid))
    return train, valid, test, parser.class_map, parser


def check_trainable(train_records, valid_records, opts: TrainOptions) -> None:
    """Refuse, before any work, a run that BatchNorm cannot train or the metric cannot score.

    BatchNorm needs more than one value per channel in training. At ``img_size`` 128 the
    deepest feature map (stride 128) is 1x1, so every batch needs two images: a batch size of
    1, or a single training image, would crash in the first step.

    Raises:
        UsageError: naming the option to change.
    """
    if not train_records:
        raise UsageError("no training images: the train split is empty")
    if not valid_records:
        raise UsageError("no validation images: add a valid split (or more train images, 20% of "
                         "which then validate)")
    from .records import normalize_img_size

    hw = normalize_img_size(opts.img_size, where="--img-size", error=UsageError)
    smallest = min(hw.height, hw.width)
    one_value = smallest <= 128  # P7 (stride 128) is 1x1: one value per channel per image
    if one_value and opts.batch_size < 2:
        raise UsageError(
            f"--batch-size {opts.batch_size} at --img-size {opts.img_size}: BatchNorm needs more "
            "than one value per channel and the deepest feature map is 1x1; use --batch-size 2 "
            "or more, or --img-size 256"
        )
    only_valid = sorted({name for r in valid_records for name in r.labels}
                        - {name for r in train_records for name in r.labels})
    if only_valid:  # trainable, but the model never sees them: say so before the hours of work
        logger.warning(
            "class(es) %s have boxes in the valid split but none in train: the model cannot "
            "learn them (their AP will be 0); move some of their images to train",
            ", ".join(only_valid))
    if one_value and len(train_records) < 2:
        raise UsageError(
            f"{len(train_records)} training image at --img-size {opts.img_size}: BatchNorm needs "
            "batches of two images when the deepest feature map is 1x1; add training images or "
            "use --img-size 256"
        )


def _tfms(model, img_size: int, aug: str = "full"):
    """Training and inference transforms. ``aug``: ``full`` (IceVision's ``aug_tfms``), ``flip``
    (resize, pad and a horizontal flip: learns faster in short runs) or ``none``."""
    from . import tfms
    from .efficientdet.prediction import inference_tfm

    norm = tfms.A.Normalize(mean=model.config.mean, std=model.config.std)
    return tfms.A.Adapter([*tfms.A.aug_preset(img_size, aug), norm]), inference_tfm(model)


# -- training ----------------------------------------------------------------------------------
def use_epoch_lines(opts: TrainOptions) -> bool:
    """Whether progress is one printed line per epoch (``opts.progress``: ``lines``, or ``auto``
    with stdout not a terminal) instead of progress bars, whose carriage returns fill logs."""
    import sys

    if opts.progress == "auto":
        return not sys.stdout.isatty()
    return opts.progress == "lines"


def process_rank() -> int:
    """This process's global rank under DDP (0 when not distributed)."""
    import os

    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        return dist.get_rank()
    return int(os.environ.get("RANK", os.environ.get("LOCAL_RANK", 0) or 0))


def _check_log_matches(last: Path, csv_path: Path, epoch: int) -> None:
    """Refuse a resume that would drop finished epochs' rows from ``metrics.csv``: the rows of
    epochs after ``last.pt``'s are dropped (the epoch a kill interrupted is trained again), so
    more than one such row means ``last.pt`` is older than the run's log."""
    from .training.csvlog import read_metrics_csv

    later = sorted(r["epoch"] for r in read_metrics_csv(csv_path)
                   if isinstance(r.get("epoch"), int) and r["epoch"] > epoch)
    if len(later) > 1 or (later and later[0] != epoch + 1):
        raise UsageError(
            f"--resume {last}: it ends at epoch {epoch} but {csv_path} holds finished epochs up "
            f"to {later[-1]}; resuming would drop their rows. Put back the last.pt of epoch "
            f"{later[-1]}, or start a new run with another --out")


def train_model(train_records, valid_records, class_map, opts: TrainOptions,
                *, out: str | Path | None = None,
                resume: str | Path | None = None, run_extra: dict[str, Any] | None = None):
    """Build ``opts.model_name`` for ``class_map`` and train it; returns the model (eval mode).

    With ``out``, the run keeps ``best.pt`` (best validation AP), ``last.pt`` (every epoch, with
    the state ``resume`` needs) and ``metrics.csv`` there, and the returned model has the best
    epoch's weights (the EMA's with ``opts.ema``); [`save_run`][efficientdet_adapter.runs.save_run]
    then adds ``model.pt`` and
    the pictures, as ``train`` and ``demo`` do. ``resume``: a run folder (or its ``last.pt``)
    to continue exactly where its last finished epoch left it.

    ``opts`` is completed in place before training: ``img_size="auto"`` and ``anchors="auto"``
    become the chosen values (`auto_options`), and with ``opts.time`` (seconds from this
    call) ``opts.epochs`` becomes the epochs that fit the budget, at most ``opts.epochs``
    (`training.budget`); the run's checkpoints keep them, so a resume follows the same
    schedule.
    """
    import torch

    from .dataset import Dataset
    from .efficientdet import dataloaders
    from .efficientdet.model import model as build_model
    from .devices import choose_precision, resolve_device
    from .training.state import RunState, RunTracker, load_train_state

    started = time.perf_counter()
    if opts.engine not in ("fastai", "lightning"):
        raise UsageError(f"--engine {opts.engine!r}: choose fastai or lightning")
    device = resolve_device(opts.device)
    precision = choose_precision(opts.precision, device)  # fp32, fp16 or bf16
    resume_state, run_state = None, None
    if resume is not None:
        path = Path(resume)
        path = path / "last.pt" if path.is_dir() else path
        data, state = load_train_state(path, TrainOptions)  # validated whole (resume_check)
        if state.get("engine") != opts.engine:
            raise UsageError(f"--resume {path}: written by --engine {state.get('engine')}; resume "
                             f"with --engine {state.get('engine')}")
        from .class_map import ClassMap
        from .training.resume_check import class_map_change

        change = class_map_change(ClassMap.from_dict(data["class_map"]).foreground,
                                  class_map.foreground)
        if change is not None:  # a head trained on circles must not go on learning squares
            raise UsageError(f"--resume {path}: the data's classes differ from the run's ({change});"
                             " resume on data with the run's classes in the run's order, or start "
                             "a new run")
        resume_state = (state, data["state_dict"], path)
        run_state = RunState.from_dict(state["run"])
        out = out if out is not None else path.parent
        _check_log_matches(path, Path(out) / "metrics.csv", run_state.epoch)
    if resume_state is None:  # "auto" size and anchors, chosen from the boxes (a resume has
        from .auto_options import resolve_auto_options  # them in its saved options)

        for line in resolve_auto_options(opts, train_records):
            logger.info(line)
    if opts.deterministic:
        torch.use_deterministic_algorithms(True, warn_only=True)
    torch.manual_seed(opts.seed)
    model = build_model(model_name=opts.model_name, num_classes=len(class_map),
                        img_size=opts.img_size, pretrained_backbone=_backbone_weights(opts),
                        **opts.anchor_settings)
    if resume_state is not None:  # the weights and optimizer state fit the model, tensor by tensor
        from .training.resume_check import check_state_fits

        check_state_fits(model, data, resume_state[0], resume_state[2])
    if resume_state is not None and opts.engine == "lightning":
        from .efficientdet.wrappers import find_network

        find_network(model).load_state_dict(resume_state[0].get("model", resume_state[1]))
    train_tfm, valid_tfm = _tfms(model, opts.img_size, opts.aug)
    loader_kwargs = {"batch_size": opts.batch_size, "num_workers": opts.num_workers,
                     "persistent_workers": opts.num_workers > 0}
    train_dl = dataloaders.train_dl(Dataset(train_records, train_tfm), shuffle=True,
                                    drop_last=len(train_records) > opts.batch_size,
                                    anchor_labeler=model, **loader_kwargs)
    valid_dl = dataloaders.valid_dl(Dataset(valid_records, valid_tfm), **loader_kwargs)
    if opts.time and resume_state is None:  # the epochs that fit the budget (a resume keeps them)
        from .training.budget import apply_budget

        plan = apply_budget(opts, model, train_dl, valid_dl, started=started, device=device,
                            precision=precision)
        run_extra = {**(run_extra or {}), "time_budget": plan.to_dict()}
    extra = {"engine": opts.engine, "epochs": opts.epochs, "lr": opts.lr,
             "batch_size": opts.batch_size, "options": opts.to_dict(), **(run_extra or {})}
    tracker = RunTracker(out, class_map, patience=opts.patience, extra=extra, state=run_state,
                         is_writer=process_rank() == 0)
    if opts.time and resume_state is None:  # an overrun of the plan stops after an epoch
        tracker.start_clock(started + opts.time, opts.epochs + opts.freeze_epochs)
    try:
        if opts.engine == "fastai":
            from .engines.fastai.fit import fit_run
        else:
            from .engines.lightning.fit import fit_run
        final = fit_run(model, train_dl, valid_dl, opts, tracker, resume_state, device, precision,
                        lines=use_epoch_lines(opts))
    except ImportError as e:
        raise UsageError(str(e)) from None
    finally:
        tracker.close()
    best = None if out is None else Path(out) / "best.pt"
    if best is not None and best.is_file() and process_rank() == 0:
        from .checkpoint import load_checkpoint_data
        from .efficientdet.wrappers import find_network

        find_network(final).load_state_dict(load_checkpoint_data(best)["state_dict"])
    return final.eval()


def evaluate(model, records, show_pbar: bool = True, device=None) -> tuple[dict[str, float], list]:
    """COCOMetric of ``model`` on ``records`` (boxes compared in the original images' pixels)."""
    from .dataset import Dataset
    from .efficientdet.prediction import inference_tfm, predict
    from .metrics import COCOMetric

    preds = predict(model, Dataset(records, inference_tfm(model)), detection_threshold=0.5,
                    show_pbar=show_pbar, device=device)
    # predict leaves out the ground truth of records without boxes; the metric needs it all
    # (images without boxes still count: their detections are false positives)
    preds = [p if p.ground_truth is not None else dataclasses.replace(p, ground_truth=r)
             for p, r in zip(preds, records)]
    metric = COCOMetric()
    metric.accumulate(preds)
    return metric.finalize(), preds


# -- pictures and files ------------------------------------------------------------------------
def write_predictions(preds, out_dir: Path, category_ids=None, min_score: float | None = None,
                      annotated: bool = True) -> Path:
    """Annotated PNGs (one per image, at most ``MAX_ANNOTATED_SIDE`` pixels a side) and
    ``predictions.json`` (COCO results, in the original images' pixels) in ``out_dir``.

    ``images.json`` beside it maps the results' ``image_id`` to the image files. ``out_dir`` may
    be new, empty or hold an earlier prediction of the same images (replaced); a folder with
    any other file is refused, so that ``predictions.json`` never sits beside pictures it does
    not describe.
    """
    from PIL import Image

    from .efficientdet.prediction import annotate
    from .efficientdet.show import MAX_ANNOTATED_SIDE
    from .writers import write_coco_results

    out_dir.mkdir(parents=True, exist_ok=True)
    inputs = {Path(p.filepath).resolve() for p in preds if p.filepath is not None}
    images, image_ids, taken, pngs = [], {}, set(), []
    for i, pred in enumerate(preds):
        image_ids[pred.record_id] = i
        name = Path(pred.filepath).name if pred.filepath is not None else f"image_{i}"
        images.append({"id": i, "file_name": str(pred.filepath or name),
                       "width": pred.width, "height": pred.height})
        if annotated:
            stem = Path(name).stem
            png = f"{stem}.png" if f"{stem}.png" not in taken else f"{stem}_{i}.png"
            taken.add(png)
            pngs.append((pred, out_dir / png))
    planned = [path for _, path in pngs] + [out_dir / "images.json", out_dir / "predictions.json"]
    clash = [path for path in planned if path.resolve() in inputs]
    if clash:  # checked before anything is written: an input is never replaced by an output
        raise UsageError(
            f"{out_dir}: writing the predictions here would replace the input image {clash[0]}; "
            "choose an output folder apart from the images"
        )
    names = {path.name for path in planned}
    foreign = sorted(p.name for p in out_dir.iterdir()
                     if not p.name.startswith(".") and p.name not in names)
    if foreign:  # predictions.json describes exactly the pictures beside it, or is not written
        shown = ", ".join(foreign[:3]) + (", ..." if len(foreign) > 3 else "")
        raise UsageError(
            f"{out_dir}: holds {len(foreign)} file(s) these predictions would not describe "
            f"({shown}: an earlier prediction of other images?); choose an empty --out folder"
        )
    for pred, path in pngs:  # drawn at a bounded size: memory does not grow with the photo
        picture = Image.fromarray(annotate(pred, max_side=MAX_ANNOTATED_SIDE))
        atomic_save(path, lambda tmp: picture.save(tmp, format="PNG"))
    atomic_write_text(out_dir / "images.json", json.dumps(images, indent=1))
    return write_coco_results(preds, out_dir / "predictions.json", category_ids,
                              image_ids=image_ids, min_score=min_score)


def save_model(model, class_map, opts: TrainOptions, out: Path, extra: dict[str, Any],
               final: dict[str, Any] | None = None) -> Path:
    """``out/model.pt``: written as soon as training ends, before any scoring or plotting."""
    from .checkpoint import save_checkpoint

    return save_checkpoint(model, out / "model.pt", class_map, extra={
        "engine": opts.engine, "epochs": opts.epochs, "lr": opts.lr,
        "batch_size": opts.batch_size, **({"metrics": final} if final else {}), **extra})


def save_run(model, class_map, opts: TrainOptions, valid_records, out: Path,
             final: dict[str, Any], extra: dict[str, Any], preds=None) -> Path:
    """What a finished run adds to its folder: ``model.pt`` again, now with the ``final``
    metrics (``torch.load(...)["extra"]["metrics"]``), and the pictures: ``curves.png`` (losses
    and AP per epoch, from ``metrics.csv``), ``pr_curves.png`` and ``confusion_matrix.png`` (of
    ``preds``, the scored predictions: valid for ``train``, the held-out test for ``demo``) and
    ``valid_predictions.png``; returns the checkpoint's path.

    Example:
        >>> metrics, preds = evaluate(model, valid)                              # doctest: +SKIP
        >>> save_run(model, class_map, opts, valid, out, {"valid": metrics}, {}, preds)  # doctest: +SKIP
    """
    from .dataset import Dataset
    from .efficientdet.prediction import inference_tfm, show_results
    from .training.plots import plot_run

    ckpt = save_model(model, class_map, opts, out, extra, final)
    if preds is not None:
        plot_run(out, preds, class_map)
    show_results(model, Dataset(valid_records, inference_tfm(model)), num_samples=6, ncols=2,
                 save_path=out / "valid_predictions.png", cell_size=3.0)
    return ckpt


def print_metrics(title: str, metrics: dict[str, float], records=None) -> None:
    """``metrics`` one per line under ``title``; with ``records``, a line saying when they hold
    no ground-truth box (COCOeval then reports every AP and AR as -1: undefined, not zero)."""
    print(title)
    if records is not None and not any(r.bboxes for r in records):
        print(f"  no ground-truth boxes in these {len(records)} images: every AP/AR below is -1 "
              "(undefined); add annotated images to measure the model")
    for key, value in metrics.items():
        if "class=" not in key:
            print(f"  {key:<44} {value:7.4f}")
    per_class = {k: v for k, v in metrics.items() if "class=" in k}
    for key, value in per_class.items():
        print(f"  {key:<44} {value:7.4f}")
