"""A training run, as the command line does it: options, data, the fit and its files.

``train_model`` fits with either engine
([`engines.fastai.fit`][efficientdet_adapter.engines.fastai.fit],
[`engines.lightning.fit`][efficientdet_adapter.engines.lightning.fit]);
with a run folder, the run's [`RunTracker`][efficientdet_adapter.training.state.RunTracker] writes
one row per epoch to
``metrics.csv`` (and ``best.pt``, ``last.pt``, TensorBoard). ``save_run`` writes what a finished
run adds: ``model.pt`` with the final metrics, and the pictures (``curves.png``,
``pr_curves.png``, ``confusion_matrix.png``, ``valid_predictions.png``). ``train``, ``demo``
([`cli`][efficientdet_adapter.app.cli]) and the Python API write the same files, with these two
functions.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from efficientdet_adapter.training.auto_options import Anchors
from efficientdet_adapter.base.choices import AugPreset
from efficientdet_adapter.base.devices import Precision
from efficientdet_adapter.base.choices import Engine
from efficientdet_adapter.base.errors import UsageError
from efficientdet_adapter.training.run_options import Progress
from efficientdet_adapter.training.small_boxes import SmallBoxes
from efficientdet_adapter.training.loggers import LoggerName
from efficientdet_adapter.base.terminal import printable
from efficientdet_adapter.inference.files import write_predictions  # re-exported: predict's files live there

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
    defaults are the ones ``bench/real_data.py`` chose on the shared real exports; its figures
    are in docs/benchmarks.md ("Real exports: accuracy on a CPU budget").

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
    engine: Engine = "fastai"  # engines.ENGINES
    weights: str = "auto"  # auto, coco, none, a checkpoint or a run folder (see start)
    pretrained_backbone: str = "auto"  # with weights "auto": a named backbone is the start
    freeze_epochs: int = 0
    num_workers: int = 0
    seed: int = 0
    aug: AugPreset = "flip"  # choices.AUG_PRESETS: full (IceVision's aug_tfms), flip, scale or none
    extra: dict[str, Any] = field(default_factory=dict)
    patience: int | None = None  # early stopping: epochs without a better validation AP
    ema: bool = False  # validate and save an EMA of the weights (timm's ModelEmaV3)
    ema_decay: float = 0.9998
    device: str = "auto"  # auto, cpu, cuda or cuda:N
    precision: Precision = "auto"  # auto, 32, 16-mixed, bf16-mixed (see devices)
    devices: int = 1  # processes per node (Lightning DDP when devices * num_nodes > 1)
    num_nodes: int = 1
    deterministic: bool = False  # torch.use_deterministic_algorithms (warn-only)
    progress: Progress = "auto"  # auto (a bar in a terminal, else one line per epoch), bar, lines
    anchors: Anchors = "default"  # default (effdet's) or auto (fitted: auto_options)
    anchor_settings: dict[str, Any] = field(default_factory=dict)  # effdet anchor overrides
    time: float | None = None  # wall-clock budget in seconds (training.budget); None: epochs
    small_boxes: SmallBoxes = "remedy"  # remedy or keep (small_boxes.SMALL_BOX_CHOICES)
    backbone_lr_mult: float = 1.0  # the backbone's peak lr is lr times this (heads and FPN: lr)
    freeze_bn: bool = False  # BatchNorm running statistics kept as loaded (affine still trained)
    loggers: list[LoggerName] = field(default_factory=list)  # --logger (training.loggers.LOGGERS)

    def __post_init__(self) -> None:
        """Every field of the right type, range and vocabulary, checked when the options are
        made (`check_options`; ``--resume`` checks a ``last.pt`` with it).

        Raises:
            OptionError: naming the field.
        """
        from efficientdet_adapter.training.run_options import check_options  # noqa: PLC0415

        check_options(self)

    def group_lrs(self) -> list[float]:
        """Peak learning rates of the parameter groups of
        `param_groups` (backbone, FPN, heads).

        Example:
            >>> TrainOptions(lr=0.01, backbone_lr_mult=0.25).group_lrs()
            [0.0025, 0.01, 0.01]
        """
        return [self.lr * self.backbone_lr_mult, self.lr, self.lr]

    def to_dict(self) -> dict[str, Any]:
        """Plain data, as saved in ``last.pt`` for ``--resume``."""
        return {k: v for k, v in dataclasses.asdict(self).items() if k != "extra"}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "TrainOptions":
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})


#: What ``efficientdet-adapter demo`` trains with: ``train``'s defaults for 12 epochs at a peak lr
#: of 1e-2 (its held-out AP50 is in docs/benchmarks.md, "The demo").
DEMO_OPTIONS = TrainOptions(epochs=12, lr=1e-2)
#: Images ``demo`` generates over train/valid/test.
DEMO_NUM_IMAGES = 240


def load_splits(data: str | Path, format: str = "auto", seed: int = 0, *,
                check_images: bool = False):
    """``(train, valid, test, class_map, parser)`` of a Roboflow-style export (folder or zip),
    or of the splits an Ultralytics ``data.yaml`` lists (`parsers.yolo_data`).

    Without a ``valid`` split, 20% of ``train`` (seeded) validates; ``test`` may be empty.
    ``check_images``: compare every image header with its annotation first (see
    [`Parser`][efficientdet_adapter.parsers.base.Parser]). `load_run_data` also
    says how the valid split came to be (what ``train`` records for ``eval``).
    """
    from efficientdet_adapter.training.run_splits import load_run_data  # noqa: PLC0415

    d = load_run_data(data, format, seed, check_images=check_images)
    return d.train, d.valid, d.test, d.class_map, d.parser


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
    from efficientdet_adapter.records.record import normalize_img_size  # noqa: PLC0415

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
    from efficientdet_adapter import tfms  # noqa: PLC0415
    from efficientdet_adapter.inference.prediction import inference_tfm  # noqa: PLC0415

    norm = tfms.A.Normalize(mean=model.config.mean, std=model.config.std)
    return tfms.A.Adapter([*tfms.A.aug_preset(img_size, aug), norm]), inference_tfm(model)


# -- training ----------------------------------------------------------------------------------
def use_epoch_lines(opts: TrainOptions) -> bool:
    """Whether progress is one printed line per epoch (``opts.progress``: ``lines``, or ``auto``
    with stdout not a terminal) instead of progress bars, whose carriage returns fill logs."""
    import sys  # noqa: PLC0415

    if opts.progress == "auto":
        return not sys.stdout.isatty()
    return opts.progress == "lines"


def process_rank() -> int:
    """This process's global rank under DDP (0 when not distributed)."""
    import os  # noqa: PLC0415

    import torch.distributed as dist  # noqa: PLC0415

    if dist.is_available() and dist.is_initialized():
        return dist.get_rank()
    return int(os.environ.get("RANK", os.environ.get("LOCAL_RANK", 0) or 0))


def _check_log_matches(last: Path, csv_path: Path, epoch: int) -> None:
    """Refuse a resume that would drop finished epochs' rows from ``metrics.csv``: the rows of
    epochs after ``last.pt``'s are dropped (the epoch a kill interrupted is trained again), so
    more than one such row means ``last.pt`` is older than the run's log."""
    from efficientdet_adapter.training.csvlog import read_metrics_csv  # noqa: PLC0415

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
    epoch's weights (the EMA's with ``opts.ema``); [`save_run`][efficientdet_adapter.app.runs.save_run]
    then adds ``model.pt`` and
    the pictures, as ``train`` and ``demo`` do. ``resume``: a run folder (or its ``last.pt``)
    to continue exactly where its last finished epoch left it.

    The model starts from ``opts.weights`` (``auto``, ``coco``, ``none``, a checkpoint or a run
    folder: [`start`][efficientdet_adapter.weights.start]), printed in one line; the checkpoints keep that
        record in
    ``extra["start"]`` (the returned model in ``.start``, which
    [`save_model`][efficientdet_adapter.app.runs.save_model] keeps). A
    resume takes its weights from ``last.pt``: nothing is downloaded or transferred again.

    ``opts`` is completed in place: ``img_size="auto"`` and ``anchors="auto"`` become the chosen
    values (`auto_options`) before training, and most boxes below the smallest anchor get
    a remedy (`small_boxes`); with ``opts.time`` (seconds from this call) a clock plans the
    optimizer steps that fit the budget, at most ``opts.epochs`` epochs, and plans again at each
    epoch from its measured time (`training.budget`, `training.budget_clock`); after
    training ``opts.epochs`` is the epochs run. The checkpoints keep the clock, so a resume goes
    on with the budget its last epoch left.
    """
    import torch  # noqa: PLC0415

    from efficientdet_adapter.records.dataset import Dataset  # noqa: PLC0415
    from efficientdet_adapter.loop import dataloaders  # noqa: PLC0415
    from efficientdet_adapter.model.model import model as build_model  # noqa: PLC0415
    from efficientdet_adapter.base.devices import choose_precision, resolve_device  # noqa: PLC0415
    from efficientdet_adapter.training.state import RunState, RunTracker, load_train_state  # noqa: PLC0415

    started = time.perf_counter()
    from efficientdet_adapter.training.run_options import check_options  # noqa: PLC0415

    check_options(opts)  # fields set after it was made (engine, aug...) are checked again
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
        from efficientdet_adapter.records.class_map import ClassMap  # noqa: PLC0415
        from efficientdet_adapter.training.resume_check import class_map_change  # noqa: PLC0415

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
        from efficientdet_adapter.training.auto_options import resolve_auto_options  # them in its saved options)  # noqa: PLC0415

        for line in resolve_auto_options(opts, train_records):
            logger.info(line)
        from efficientdet_adapter.training.small_boxes import remedy_small_boxes  # noqa: PLC0415

        remedy = remedy_small_boxes(opts, train_records)  # most boxes below the anchors
        if remedy is not None:
            print(remedy, flush=True)
    if opts.deterministic:
        torch.use_deterministic_algorithms(True, warn_only=True)
    torch.manual_seed(opts.seed)
    if resume_state is None:  # the start (--weights): COCO, a checkpoint, a backbone or none
        model = build_model(model_name=opts.model_name, class_map=class_map,
                            img_size=opts.img_size, weights=opts.weights,
                            pretrained_backbone=opts.pretrained_backbone, **opts.anchor_settings)
        start = model.start
        if process_rank() == 0:
            print(start.line(), flush=True)
    else:  # the weights come from last.pt: nothing downloaded or transferred again
        from efficientdet_adapter.weights.start import Start  # noqa: PLC0415
        from efficientdet_adapter.training.resume_check import check_state_fits  # noqa: PLC0415

        model = build_model(model_name=opts.model_name, class_map=class_map,
                            img_size=opts.img_size, **opts.anchor_settings)
        recorded = data.get("extra", {}).get("start")
        start = None if recorded is None else Start.from_dict(recorded, resume_state[2])
        check_state_fits(model, data, resume_state[0], resume_state[2])
    if resume_state is not None and opts.engine == "lightning":
        from efficientdet_adapter.model.wrappers import find_network  # noqa: PLC0415

        find_network(model).load_state_dict(resume_state[0].get("model", resume_state[1]))
    train_tfm, valid_tfm = _tfms(model, opts.img_size, opts.aug)
    loader_kwargs = {"batch_size": opts.batch_size, "num_workers": opts.num_workers,
                     "persistent_workers": opts.num_workers > 0}
    train_dl = dataloaders.train_dl(Dataset(train_records, train_tfm), shuffle=True,
                                    drop_last=len(train_records) > opts.batch_size,
                                    anchor_labeler=model, **loader_kwargs)
    valid_dl = dataloaders.valid_dl(Dataset(valid_records, valid_tfm), clip_to_image=True,
                                    **loader_kwargs)
    clock = None  # --time: the steps that fit the budget, planned again at each epoch
    if opts.time and resume_state is None:
        from efficientdet_adapter.training.budget import apply_budget  # noqa: PLC0415

        plan = apply_budget(opts, model, train_dl, valid_dl, started=started, device=device,
                            precision=precision)
        clock = plan.clock
        run_extra = {**(run_extra or {}), "time_budget": plan.to_dict()}
    elif opts.time:  # a resume goes on with the budget its last finished epoch left
        from efficientdet_adapter.training.budget_clock import BudgetClock  # noqa: PLC0415

        saved = (data.get("extra") or {}).get("time_budget") or {}
        if isinstance(saved.get("clock"), dict):
            clock = BudgetClock.from_dict(saved["clock"], started=started)
            run_extra = {**(run_extra or {}), "time_budget": saved}
    extra = {"engine": opts.engine, "epochs": opts.epochs, "lr": opts.lr,
             "batch_size": opts.batch_size, "options": opts.to_dict(), **(run_extra or {}),
             **({} if start is None else {"start": start.to_dict()})}
    tracker = RunTracker(out, class_map, patience=opts.patience, extra=extra, state=run_state,
                         is_writer=process_rank() == 0,
                         tensorboard=not opts.loggers,  # --logger: the engine's loggers write
                         last_row=None if resume_state is None else resume_state[0].get("row"))
    tracker.budget = clock
    try:
        if opts.engine == "fastai":
            from efficientdet_adapter.engines.fastai.fit import fit_run  # noqa: PLC0415
        else:
            from efficientdet_adapter.engines.lightning.fit import fit_run  # noqa: PLC0415
        final = fit_run(model, train_dl, valid_dl, opts, tracker, resume_state, device, precision,
                        lines=use_epoch_lines(opts))
    except ImportError as e:
        raise UsageError(str(e)) from None
    finally:
        tracker.close()
    if clock is not None:  # the epochs the budget gave (the options keep the cap for --resume)
        opts.epochs = max(1, tracker.state.epoch - opts.freeze_epochs)
    best = None if out is None else Path(out) / "best.pt"
    if best is not None and best.is_file() and process_rank() == 0:
        from efficientdet_adapter.weights.state_dict import load_checkpoint_data  # noqa: PLC0415
        from efficientdet_adapter.model.wrappers import find_network  # noqa: PLC0415

        find_network(final).load_state_dict(load_checkpoint_data(best)["state_dict"])
    final.start = start  # save_model records it in model.pt
    return final.eval()


def evaluate(model, records, show_pbar: bool = True, device=None) -> tuple[dict[str, float], list]:
    """COCOMetric of ``model`` on ``records`` (boxes compared in the original images' pixels).

    Raises:
        ImageLoadError: an image cannot be read (a metric over the others would score another
            set than the one named, and pair the rest with the wrong records).
    """
    from efficientdet_adapter.records.dataset import Dataset  # noqa: PLC0415
    from efficientdet_adapter.inference.prediction import inference_tfm, predict  # noqa: PLC0415
    from efficientdet_adapter.metrics import COCOMetric  # noqa: PLC0415

    preds = predict(model, Dataset(records, inference_tfm(model)), detection_threshold=0.5,
                    show_pbar=show_pbar, device=device, skip_unreadable=False)
    # predict leaves out the ground truth of records without boxes; the metric needs it all
    # (images without boxes still count: their detections are false positives)
    preds = [p if p.ground_truth is not None else dataclasses.replace(p, ground_truth=r)
             for p, r in zip(preds, records)]
    metric = COCOMetric()
    metric.accumulate(preds)
    return metric.finalize(), preds


# -- pictures and files ------------------------------------------------------------------------
def save_model(model, class_map, opts: TrainOptions, out: Path, extra: dict[str, Any],
               final: dict[str, Any] | None = None) -> Path:
    """``out/model.pt``: written as soon as training ends, before any scoring or plotting."""
    from efficientdet_adapter.checkpoints.checkpoint import save_checkpoint  # noqa: PLC0415

    start = getattr(model, "start", None)  # where training started (train_model sets it)
    return save_checkpoint(model, out / "model.pt", class_map, extra={
        "engine": opts.engine, "epochs": opts.epochs, "lr": opts.lr,
        "batch_size": opts.batch_size, "options": opts.to_dict(),
        **({"metrics": final} if final else {}),
        **({} if start is None else {"start": start.to_dict()}), **extra})


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
    from efficientdet_adapter.records.dataset import Dataset  # noqa: PLC0415
    from efficientdet_adapter.inference.prediction import inference_tfm, show_results  # noqa: PLC0415
    from efficientdet_adapter.training.plots import plot_run  # noqa: PLC0415

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
    for key, value in per_class.items():  # class names come from files: escaped
        print(f"  {printable(key):<44} {value:7.4f}")
