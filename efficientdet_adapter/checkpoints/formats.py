"""The export formats, each with the file suffix it writes: the one table (``export --format``'s
choices, the default file names and the suffix check read it). Imports no torch.

Example:
    >>> EXPORT_SUFFIXES["torch-export"]
    '.pt2'
    >>> check_export_suffix("model.onnx", "torch-export")
    Traceback (most recent call last):
    ...
    efficientdet_adapter.base.errors.ExportError: model.onnx: its suffix .onnx is the onnx format's, but this is a torch-export file; name it model.pt2 (or export with format onnx)
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from efficientdet_adapter.base.errors import ExportError

__all__ = ["ExportFormat", "EXPORT_SUFFIXES", "check_export_suffix"]

ExportFormat = Literal["onnx", "torch-export", "torchscript"]
#: Each format and the suffix of the file it writes.
EXPORT_SUFFIXES: dict[str, str] = {"onnx": ".onnx", "torch-export": ".pt2", "torchscript": ".ts"}


def check_export_suffix(path: str | Path, fmt: str) -> Path:
    """``path`` unless its suffix is another export format's (``m.onnx`` for a ``.pt2``
    program): such a name would send the file to the wrong runtime. Other suffixes are kept.

    Raises:
        ExportError: the suffix names another format.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    other = next((name for name, s in EXPORT_SUFFIXES.items() if s == suffix and name != fmt),
                 None)
    if other is not None:
        raise ExportError(f"{path}: its suffix {path.suffix} is the {other} format's, but this is "
                          f"a {fmt} file; name it {path.with_suffix(EXPORT_SUFFIXES[fmt]).name} "
                          f"(or export with format {other})")
    return path
