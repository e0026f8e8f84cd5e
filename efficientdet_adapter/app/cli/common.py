"""What every command shares: the program's name, one-line output, and the checks made on
paths and inputs before any work (an output folder apart from the inputs, a checkpoint or export
that exists, an extra that is installed)."""

from __future__ import annotations

import importlib.util
import os
import tempfile
from collections.abc import Iterable
from pathlib import Path

from efficientdet_adapter.base.errors import UsageError
from efficientdet_adapter.inference.image_files import inside  # the one path test (light)
from efficientdet_adapter.base.terminal import printable  # the one escaper of names shown on a terminal
from efficientdet_adapter.parsers.formats import FORMATS

__all__ = ["PROG", "say", "check_output_folder", "check_output_file", "checkpoint_arg", "data_arg",
           "need", "is_ddp_child", "inside", "same"]


PROG = "efficientdet-adapter"

FORMATS_OR_AUTO = ("auto", *FORMATS)  # --format of train, eval and check: auto detects it

CHECKPOINT_HELP = ("a model.pt written by train or demo, a .onnx written by export, or its "
                   "http(s):// URL (downloaded once into the cache, as model_from_checkpoint does)")


def say(text: str) -> None:
    """Print ``text`` (one or more lines) to stdout with the control characters of any file
    name in it escaped (`printable`)."""
    print("\n".join(printable(line) for line in str(text).split("\n")), flush=True)


def same(a: Path, b: Path) -> bool:
    return a.resolve() == b.resolve()


def writable_folder(folder: Path, option: str) -> None:
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
        if out.exists() and holder.exists() and same(out, holder):
            what = "an input folder" if item.is_dir() else f"the folder of the input {item}"
            raise UsageError(f"{option} {out}: is {what}; outputs could replace your files, "
                             "choose a separate output folder")
    if create:
        writable_folder(out, option)
    return out


def check_output_file(value: str | Path, option: str = "--out",
                      inputs: Iterable[Path] = ()) -> Path:
    """The output file ``value``: not a folder, not one of ``inputs``, in a writable folder."""
    path = Path(value)
    if path.is_dir():
        raise UsageError(f"{option} {path}: is an existing folder; give a file name inside it "
                         "or elsewhere")
    for item in inputs:
        if path.exists() and item.exists() and same(path, item):
            raise UsageError(f"{option} {path}: is an input of this command; writing it would "
                             "destroy it, choose another file name")
    writable_folder(path.parent, option)
    return path


def check_file(value: str, option: str, what: str) -> Path:
    path = Path(value)
    if not path.is_file():
        problem = "no such file" if not path.exists() else "not a file"
        raise UsageError(f"{option} {path}: {problem}; give the path of {what}")
    return path


def checkpoint_arg(value: str) -> Path:
    """``--checkpoint``: a local file, or a URL downloaded into the cache (as the Python API); a
    ``.onnx`` needs ONNX Runtime."""
    from efficientdet_adapter.weights.hub import is_url, local_file  # noqa: PLC0415

    path = local_file(value) if is_url(value) else check_file(
        value, "--checkpoint", "a model.pt written by train, a .onnx written by export (or its URL)")
    if path.suffix.lower() == ".onnx":
        need("onnxruntime", f"--checkpoint {value}", "export")
    return path


def data_arg(value: str) -> Path:
    from efficientdet_adapter.weights.hub import is_url  # noqa: PLC0415

    if is_url(value):
        raise UsageError(f"--data {value}: URLs are not accepted; download the export and give "
                         "its folder or .zip")
    path = Path(value)
    if not path.exists():
        raise UsageError(f"--data {path}: no such folder or zip file; give a dataset export (a folder, .zip or data.yaml)")
    return path


def need(module: str, option: str, extra: str) -> None:
    """Stop with the extra to install when ``module`` (any of ``a|b``) is not installed."""
    if all(importlib.util.find_spec(name) is None for name in module.split("|")):
        raise UsageError(f"{option} needs {module.replace('|', ' or ')}, which is not installed: "
                         f"pip install 'efficientdet_adapter[{extra}]'")


def is_ddp_child() -> bool:
    """A process that Lightning's DDP launcher started (rank > 0): it re-runs the command."""

    return int(os.environ.get("LOCAL_RANK", 0) or 0) > 0 or int(os.environ.get("NODE_RANK", 0) or 0) > 0
