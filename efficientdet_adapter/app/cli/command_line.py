"""The parser of every subcommand, and ``main``: run one, print any user error as one line."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from efficientdet_adapter.app.cli import check, demo, eval as eval_command, export, predict, train
from efficientdet_adapter.app.cli.common import PROG
from efficientdet_adapter.app.cli.values import ArgumentParser
from efficientdet_adapter.app.run_config import expand_config
from efficientdet_adapter.base.errors import AdapterError
from efficientdet_adapter.base.terminal import printable
from efficientdet_adapter.training.interrupts import stop_on_sigterm

__all__ = ["main", "build_parser"]


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every subcommand (argparse's errors raise
    [`UsageError`][efficientdet_adapter.base.errors.UsageError])."""
    parser = ArgumentParser(
        prog=PROG, description="Train, evaluate, run and export EfficientDet object detectors.")
    parser.add_argument("-v", "--verbose", action="store_true", help="log more")
    # the package is imported before any of its modules (an import of it here would be a cycle)
    version = sys.modules[__name__.split(".")[0]].__version__
    parser.add_argument("--version", action="version", version=f"%(prog)s {version}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    for command in (train, eval_command, predict, export, demo, check):
        command.add_command(sub)
    return parser


def _set_threads(threads: int | str) -> None:
    """Apply ``--threads``; for ``auto``, say so when busy cores made it fewer than PyTorch's
    default."""
    import torch  # noqa: PLC0415

    if threads != "auto":
        torch.set_num_threads(int(threads))
        return
    from efficientdet_adapter.base.devices import auto_threads  # noqa: PLC0415

    n, default, busy = auto_threads()
    if n < default:
        torch.set_num_threads(n)
        print(f"note: {busy:.1f} CPU cores are busy with other work; PyTorch runs on {n} "
              f"thread{'s' if n > 1 else ''}, not {default} (--threads N to choose)",
              file=sys.stderr, flush=True)


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
    ([`AdapterError`][efficientdet_adapter.base.errors.AdapterError],
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
        with stop_on_sigterm():  # docker stop, schedulers: as Ctrl-C (temporary files go)
            return int(args.func(args) or 0)
    except AdapterError as e:
        prog = getattr(e, "prog", prog)
        print(f"{prog}: error: {printable(_one_line(e))}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as e:
        print(f"{prog}: {str(e) or 'interrupted'}", file=sys.stderr)
        return getattr(e, "exit_code", 130)  # 143 after SIGTERM
