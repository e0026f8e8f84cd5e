"""Checks of the public API's arguments, made at the door with the library's errors.

A wrong type or range given to a public function (``batch_size="2"``, ``detection_threshold=5``,
``Dataset.from_images("one.jpg")``) is refused where it enters, with an
[`ArgumentError`][efficientdet_adapter.base.errors.ArgumentError] naming the argument, what it got and
what to
pass, instead of a ``TypeError`` deep inside PyTorch or a silent misreading (a string iterated
as its characters).

Example:
    >>> probability(0.5, "detection_threshold")
    0.5
    >>> positive_int("2", "batch_size")
    Traceback (most recent call last):
    ...
    efficientdet_adapter.base.errors.ArgumentError: batch_size='2' (a str): pass an int >= 1, e.g. batch_size=2
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from efficientdet_adapter.base.errors import ArgumentError

__all__ = ["probability", "positive_int", "not_one_path", "path_arg"]


def _got(value: Any) -> str:
    kind = type(value).__name__
    return f"{value!r} ({'an' if kind[0] in 'aeiou' else 'a'} {kind})"


def probability(value: Any, name: str) -> float:
    """``value`` as a float in [0, 1] (a score threshold)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) \
            or not math.isfinite(value) or not 0 <= value <= 1:
        raise ArgumentError(f"{name}={_got(value)}: pass a number between 0 and 1 (a score), "
                            f"e.g. {name}=0.5")
    return float(value)


def positive_int(value: Any, name: str, low: int = 1) -> int:
    """``value`` as an int >= ``low`` (a count, a batch size)."""
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        hint = f", e.g. {name}={int(value)}" if isinstance(value, str) and value.isdigit() \
            and int(value) >= low else ""
        raise ArgumentError(f"{name}={_got(value)}: pass an int >= {low}{hint}")
    return value


def not_one_path(value: Any, name: str, call: str) -> Iterable:
    """``value`` unless it is a single path (a string is a sequence of characters: iterating one
    would read each character as a file name)."""
    if isinstance(value, (str, bytes, Path)):
        raise ArgumentError(f"{name}={value!r} is one path; {call} takes a list of them: pass "
                            f"[{value!r}]")
    if not isinstance(value, Iterable):
        raise ArgumentError(f"{name}={_got(value)}: pass a list")
    return value


def path_arg(value: Any, name: str) -> Path:
    """``value`` as a ``Path``: a ``str`` or ``os.PathLike`` only (not a number, not a list)."""
    if not isinstance(value, (str, os.PathLike)) or value == "":
        raise ArgumentError(f"{name}={_got(value)}: pass a path (a str or pathlib.Path) of a "
                            "file or folder")
    return Path(value)
