"""argparse's value types: numbers in a range, image sizes, durations, tiles, thread counts;
and the parser whose complaints are the library's one-line ``UsageError``."""

from __future__ import annotations

import argparse
import math
from typing import Any

from efficientdet_adapter.base.errors import AdapterError, UsageError

__all__ = ["ArgumentParser", "number", "threads_value", "img_size_value", "img_size_or_auto",
           "duration_value", "tile_value", "overlap_value"]


class ArgumentParser(argparse.ArgumentParser):
    """argparse's own complaints (unknown option, missing argument, bad value) become a
    [`UsageError`][efficientdet_adapter.base.errors.UsageError], so that every user error leaves `main`
    the same way: one line."""

    def error(self, message: str):  # argparse's hook; it would print the usage and exit 2
        err = UsageError(f"{message} (see {self.prog} --help)")
        err.prog = self.prog  # type: ignore[attr-defined]
        raise err


def number(kind: type, *, low: float | None = None, high: float | None = None,
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


def threads_value(text: str) -> int | str:
    """``--threads``: ``auto`` or an integer of at least 1."""
    return "auto" if text == "auto" else number(int, low=1, hint=" (or auto)")(text)


def img_size_value(text: str) -> int:
    """``--img-size``: a positive multiple of 128 (EfficientDet's largest stride, 2**max_level)
    up to ``MAX_IMG_SIZE``, checked by
    [`normalize_img_size`][efficientdet_adapter.records.record.normalize_img_size]."""
    from efficientdet_adapter.records.record import IMG_STRIDE, normalize_img_size  # noqa: PLC0415

    value = number(int, low=1)(text)
    try:
        return normalize_img_size(value, stride=IMG_STRIDE, where="--img-size").height
    except AdapterError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def img_size_or_auto(text: str) -> int | str:
    """``--img-size`` of ``train``/``demo``: `img_size_value`, or ``auto``."""
    return "auto" if text.strip().lower() == "auto" else img_size_value(text)


def duration_value(text: str) -> float:
    """``--time``: seconds, or a number with s/m/h (``10m``, ``1h``)."""
    from efficientdet_adapter.training.budget import parse_duration  # noqa: PLC0415

    try:
        return parse_duration(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def tile_value(text: str) -> tuple[int, int]:
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


def overlap_value(text: str) -> float | int:
    """``--overlap``: a fraction of the tile below 1 (0.25) or pixels (64)."""
    value = number(float, low=0)(text)
    return value if value < 1 else int(value)
