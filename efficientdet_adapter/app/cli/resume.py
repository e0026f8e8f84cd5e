"""``train --resume RUN_DIR``: the run's own data and options, and the rule for the options
given beside it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from efficientdet_adapter.app.cli.common import data_arg
from efficientdet_adapter.app.runs import TrainOptions
from efficientdet_adapter.base.errors import UsageError


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
                     "--logger, --threads and --data")


def option_text(option: str, value: Any) -> str:
    """``--lr 0.005``; ``--time 3600 s`` (``no --time`` when the run has none); ``--ema`` or
    ``--no-ema`` for a switch."""
    if isinstance(value, bool):
        return option if value else f"--no-{option[2:]}"
    if option == "--time":
        return "no --time" if value is None else f"--time {value:g} s"
    return f"{option} {value}"


def given_options(args) -> set[str]:
    """The long options written on the command line (argparse's abbreviations resolved)."""
    known = (*RESUME_WHAT, "--data", "--format", "--out", "--exist-ok")
    given = set()
    for token in getattr(args, "argv", None) or ():
        if token == "--":
            break
        if token.startswith("--"):
            name = token.split("=", 1)[0]
            if name.startswith("--no-"):  # a switch turned off (--no-ema): the switch's option
                name = "--" + name[5:]
            match = [o for o in known if o == name] or [o for o in known if o.startswith(name)]
            if len(match) == 1:
                given.add(match[0])
    return given


def resume_args(args) -> tuple[Path, TrainOptions, Path, str]:
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
    from efficientdet_adapter.training.state import check_run_folder, load_train_state  # noqa: PLC0415

    run_dir = check_run_folder(Path(args.resume), resume=True)
    saved, _ = load_train_state(run_dir / "last.pt", TrainOptions)
    extra = saved.get("extra") or {}
    opts = TrainOptions.from_dict(extra.get("options") or {})
    given = given_options(args)
    for option in sorted(given & {"--out", "--exist-ok"}):
        raise UsageError(f"{option} with --resume {run_dir}: a resumed run goes on in its own "
                         f"folder; leave out {option} (or start a new run with --data and --out)")
    for option, name in RESUME_WHAT.items():
        value = getattr(args, option[2:].replace("-", "_"))
        if option in given and value != getattr(opts, name):
            raise UsageError(
                f"{option_text(option, value)} with --resume {run_dir}: the run trains with "
                f"{option_text(option, getattr(opts, name))} (its schedule is laid out for "
                f"it); leave out {option} (a resume may change only {RESUME_MAY_CHANGE}), or "
                "start a new run with another --out")
    for name in RESUME_HOW:
        setattr(opts, name, getattr(args, name))  # how to run, not what to train: from now
    recorded = extra.get("data")
    if "--format" in given and "--data" not in given:
        raise UsageError(f"--format with --resume {run_dir}: goes with --data (the run's export "
                         f"was read as {extra.get('format', 'auto')}); give both or neither")
    if "--data" in given:
        data = data_arg(args.data)
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
