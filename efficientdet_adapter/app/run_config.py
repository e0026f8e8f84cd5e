"""``train --config FILE.yaml``, the run record ``args.yaml``, and numbered run folders.

A config file is a YAML mapping whose keys are ``train``'s long option names (``img_size`` or
``img-size``) and whose values are what the flag would take. It is read into the same argparse
namespace the command line fills: each entry becomes the flag it names, placed before the flags
written on the command line, so argparse's own types check it and a flag given on the command line
wins. There is no second validator. A switch reads ``true`` or ``false`` (``ema: false`` is
``--no-ema``), so ``--no-ema`` on the command line turns off a file's ``ema: true``.

Each run writes ``args.yaml`` to its folder (`write_run_args`): the data (an absolute path),
its format and every ``train`` option (a ``weights`` or ``pretrained_backbone`` file or folder as
an absolute path too), so that ``train --config RUN/args.yaml`` trains it again
(into a new folder: without ``--out``, the next ``runs/trainN``). Values that ``train`` chooses
are written as chosen where that is what repeats the run: ``img_size: auto`` as the size picked,
and with ``time`` the epochs the budget fitted (``time`` is then left out: the schedule is what
the run trained). ``device``, ``precision``, ``num_workers`` and ``progress`` say how to run, not
what to train, and are kept as given (``auto`` picks the machine's best again).

Without ``--out``, runs go to ``runs/train``, then ``runs/train2``, ``runs/train3``...: the first
that does not exist yet (`next_run_folder`, Ultralytics' rule).

Example:
    >>> next_run_folder("runs/train")  # doctest: +SKIP
    PosixPath('runs/train2')
"""

from __future__ import annotations

import argparse
import dataclasses
import difflib
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from efficientdet_adapter.base.atomic import atomic_write_text
from efficientdet_adapter.base.errors import UsageError
from efficientdet_adapter.app.runs import TrainOptions
from efficientdet_adapter.weights.packaged_table import BACKBONE_CHOICES
from efficientdet_adapter.weights.start import WEIGHTS_CHOICES

__all__ = ["ARGS_FILE", "DEFAULT_RUN_FOLDER", "RUN_FOLDER_ENV", "config_argv",
           "expand_config", "next_run_folder", "run_args", "write_run_args"]

#: The run record in each run folder.
ARGS_FILE = "args.yaml"
#: Where runs go without ``--out`` (numbered: train, train2, train3...).
DEFAULT_RUN_FOLDER = Path("runs") / "train"
#: The numbered folder rank 0 chose, for DDP's other ranks (they re-run the command).
RUN_FOLDER_ENV = "EFFICIENTDET_ADAPTER_RUN_DIR"
#: ``TrainOptions`` fields without a flag of their own (``extra``: the Python API's; the anchor
#: settings follow from ``anchors``; ``ema_decay``: the Python API's), and renamed ones.
_NOT_FLAGS = ("extra", "anchor_settings", "ema_decay")
_FLAG_NAMES = {"model_name": "model", "loggers": "logger"}
#: Flags that a config file cannot hold: the file itself, and what points at another run.
_NOT_IN_CONFIG = ("config", "help")
MAX_CONFIG_BYTES = 1 << 20


def _read_yaml(path: Path) -> dict[str, Any]:
    import yaml  # noqa: PLC0415

    try:
        if path.stat().st_size > MAX_CONFIG_BYTES:
            raise UsageError(f"--config {path}: {path.stat().st_size} bytes; a config file is a "
                             "few lines of options, is this the right file?")
        data = yaml.safe_load(path.read_text(encoding="utf-8-sig"))
    except OSError as e:
        raise UsageError(f"--config {path}: cannot read it ({e.strerror or e}); give the path of "
                         "a YAML file of train options") from None
    except (yaml.YAMLError, UnicodeDecodeError) as e:
        where = getattr(e, "problem_mark", None)
        at = f" (line {where.line + 1})" if where is not None else ""
        raise UsageError(f"--config {path}: not valid YAML{at}; write one 'option: value' per "
                         "line, e.g. 'epochs: 20'") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise UsageError(f"--config {path}: holds a {type(data).__name__}, not a mapping; write "
                         "one 'option: value' per line, e.g. 'epochs: 20'")
    return data


def _long_options(parser: argparse.ArgumentParser) -> dict[str, argparse.Action]:
    """``{"--img-size": action, ...}``: the long options of ``parser`` (a switch by its own
    name: ``--ema``, not ``--no-ema``)."""
    return {s: a for a in parser._actions for s in a.option_strings  # noqa: SLF001 (argparse's)
            if s.startswith("--") and s[2:] not in _NOT_IN_CONFIG
            and not (isinstance(a, argparse.BooleanOptionalAction) and s.startswith("--no-"))}


def config_argv(parser: argparse.ArgumentParser, path: str | Path,
                skip: Sequence[str] = ()) -> list[str]:
    """The flags that the config file ``path`` stands for, as command-line tokens of ``parser``.

    Args:
        parser: the subcommand's parser (``train``'s).
        skip: options (``--logger``) whose entries are left out: repeatable ones the command line
            gives itself (it replaces the file's list instead of adding to it).

    Raises:
        UsageError: unreadable YAML, an unknown key (with the closest option name), or a value
            of the wrong kind for a flag.
    """
    path = Path(path)
    options = _long_options(parser)
    tokens: list[str] = []
    for key, value in _read_yaml(path).items():
        option = "--" + str(key).strip().replace("_", "-")
        action = options.get(option)
        if action is None:
            names = [o[2:].replace("-", "_") for o in options]
            close = difflib.get_close_matches(str(key).replace("-", "_"), names, n=1)
            hint = f"did you mean {close[0]!r}? " if close else ""
            raise UsageError(f"--config {path}: unknown key {key!r}; {hint}the keys are train's "
                             "long option names (e.g. epochs, img_size)")
        if option in skip or value is None:
            continue
        if action.nargs == 0:  # a switch: true is --ema, false --no-ema (or nothing)
            if not isinstance(value, bool):
                raise UsageError(f"--config {path}: {key}: {value!r} is not true or false")
            if value:
                tokens.append(option)
            elif isinstance(action, argparse.BooleanOptionalAction):
                tokens.append(f"--no-{option[2:]}")
            continue
        values = value if isinstance(value, list) else [value]
        if isinstance(value, list) and not isinstance(action, argparse._AppendAction):  # noqa: SLF001
            raise UsageError(f"--config {path}: {key}: takes one value, not a list")
        for item in values:
            if isinstance(item, (dict, list)):
                raise UsageError(f"--config {path}: {key}: {item!r} is not a single value")
            text = str(item).lower() if isinstance(item, bool) else str(item)
            tokens += [option, text]
    return tokens


def expand_config(parser: argparse.ArgumentParser, argv: Sequence[str], args: argparse.Namespace
                  ) -> list[str] | None:
    """``argv`` with the flags of ``args.config`` inserted right after the subcommand's name
    (so the command line's own flags, later, win), or ``None`` without ``--config``.

    ``parser`` is the top-level parser; ``args`` what it parsed from ``argv``.
    """
    config = getattr(args, "config", None)
    if not config:
        return None
    sub = next(a for a in parser._actions  # noqa: SLF001 (argparse keeps subparsers there)
               if isinstance(a, argparse._SubParsersAction)).choices[args.command]  # noqa: SLF001
    repeatable = [s for s, a in _long_options(sub).items()
                  if isinstance(a, argparse._AppendAction)  # noqa: SLF001
                  and getattr(args, a.dest, None) is not None]
    argv = list(argv)
    at = argv.index(args.command) + 1
    return [*argv[:at], *config_argv(sub, config, skip=repeatable), *argv[at:]]


def next_run_folder(base: str | Path = DEFAULT_RUN_FOLDER) -> Path:
    """``base`` when it does not exist yet, else the first of ``base2``, ``base3``... that does
    not (the folder a DDP rank was told by rank 0, under `RUN_FOLDER_ENV`, when set)."""
    told = os.environ.get(RUN_FOLDER_ENV)
    if told:
        return Path(told)
    base = Path(base)
    n = 1
    candidate = base
    while candidate.exists():
        n += 1
        candidate = base.with_name(f"{base.name}{n}")
    return candidate


def _absolute_file(value: Any, words: Sequence[str]) -> Any:
    """``value`` as an absolute path when it names an existing file or folder, not one of
    ``words`` (``--weights runs/mine`` reruns from any folder, as ``data`` does)."""
    if isinstance(value, (str, os.PathLike)) and str(value).lower() not in words \
            and Path(value).exists():
        return str(Path(value).resolve())
    return value


def run_args(data: str | Path, fmt: str, opts: TrainOptions, *, fitted: bool = False,
             **flags: Any) -> dict[str, Any]:
    """The options of a run as ``train --config`` reads them (see the module docstring).

    ``fitted``: ``opts.epochs`` is what ``opts.time`` fitted (after training), so ``time`` is
    left out. ``flags``: ``train``'s flags that are not
    [`TrainOptions`][efficientdet_adapter.app.runs.TrainOptions] fields
    (``check_images``, ``threads``, ``logger``); ``None`` values are left out.
    """
    out: dict[str, Any] = {"data": str(Path(data).resolve()), "format": fmt}
    for f in dataclasses.fields(TrainOptions):
        if f.name not in _NOT_FLAGS:
            out[_FLAG_NAMES.get(f.name, f.name)] = getattr(opts, f.name)
    for key, words in (("weights", WEIGHTS_CHOICES), ("pretrained_backbone", BACKBONE_CHOICES)):
        out[key] = _absolute_file(out[key], words)
    if fitted and opts.time:  # the budget fitted opts.epochs: a rerun trains them
        out["time"] = None
    out.update(flags)
    return {k: v for k, v in out.items() if v is not None}


def write_run_args(out: str | Path, data: str | Path, fmt: str, opts: TrainOptions,
                   *, fitted: bool = False, **flags: Any) -> Path:
    """Write ``out/args.yaml`` (atomically): `run_args`, with a header saying how to rerun.

    ``train`` writes it before training, and again after it when ``--time`` fitted the epochs
    (``fitted=True``).
    """
    import yaml  # noqa: PLC0415

    out = Path(out)
    lines = [f"# {ARGS_FILE}: this run's options; train it again with",
             f"#   efficientdet-adapter train --config {out / ARGS_FILE}",
             "# (into a new folder: give another --out, or none for the next runs/trainN)"]
    if fitted and opts.time:
        lines.append(f"# --time {opts.time:g} s fitted {opts.epochs} epochs, written below")
    body = yaml.safe_dump(run_args(data, fmt, opts, fitted=fitted, **flags), sort_keys=False,
                          allow_unicode=True)
    return atomic_write_text(out / ARGS_FILE, "\n".join(lines) + "\n" + body)
