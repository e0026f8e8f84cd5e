"""The one check of a run's options: ``TrainOptions(...)`` and ``--resume`` both call it.

[`TrainOptions`][efficientdet_adapter.app.runs.TrainOptions] calls `check_options` when it is made, and
``--resume`` makes a ``TrainOptions`` from the options saved in ``last.pt``
(`resume_check`), so a value the Python API refuses is the
value a resume refuses, with the same words. Each refusal is an
[`OptionError`][efficientdet_adapter.base.errors.OptionError] naming the field, the value and what it
should
be.

The lists of choices are read from their homes, beside the code that implements them
(`AUG_PRESETS`, the light list that tfms implements,
`ENGINES`,
`PRECISIONS`,
`ANCHOR_CHOICES`,
`SMALL_BOX_CHOICES`, `PROGRESS_CHOICES`); the command
line's ``choices=`` read the same tuples (`OPTION_CHOICES`).

Example:
    >>> OPTION_CHOICES["aug"]
    ('full', 'flip', 'scale', 'none')
"""

from __future__ import annotations

import math
from typing import Any, Literal, get_args

from efficientdet_adapter.base.arguments import positive_int
from efficientdet_adapter.training.auto_options import Anchors
from efficientdet_adapter.base.choices import AugPreset
from efficientdet_adapter.base.devices import Precision
from efficientdet_adapter.base.choices import Engine
from efficientdet_adapter.base.errors import ArgumentError, OptionError
from efficientdet_adapter.training.small_boxes import SmallBoxes

__all__ = ["Progress", "PROGRESS_CHOICES", "OPTION_TYPES", "OPTION_CHOICES", "IMG_SIZE_RANGE",
           "ANCHOR_SETTING_KEYS", "check_options"]

#: ``progress``: a bar in a terminal and lines otherwise, a bar, or one line per epoch
#: (``runs.use_epoch_lines`` implements it).
Progress = Literal["auto", "bar", "lines"]
PROGRESS_CHOICES: tuple[str, ...] = get_args(Progress)
#: Each option that takes one of a list of words, and the ``Literal`` type of its field in
#: ``TrainOptions`` (the type is the vocabulary's one home, beside what implements it;
#: ``tests/test_run_options.py`` checks that every ``Literal`` field of ``TrainOptions`` is here).
OPTION_TYPES: dict[str, Any] = {
    "engine": Engine, "aug": AugPreset, "progress": Progress,
    "precision": Precision, "anchors": Anchors, "small_boxes": SmallBoxes,
}
#: Each option's words, read from its type: argparse's ``choices`` and the checks use these.
OPTION_CHOICES: dict[str, tuple[str, ...]] = {k: get_args(t) for k, t in OPTION_TYPES.items()}
#: The smallest and largest side of ``img_size`` (pixels).
IMG_SIZE_RANGE = (128, 4096)
#: The anchor overrides ``anchor_settings`` may hold (what ``--anchors auto`` fits).
ANCHOR_SETTING_KEYS = ("anchor_scale", "aspect_ratios")


def _got(value: Any) -> str:
    shown = repr(value)
    shown = shown if len(shown) <= 60 else shown[:57] + "..."
    kind = type(value).__name__
    return f"{shown} ({'an' if kind[0] in 'aeiou' else 'a'} {kind})"


def _refuse(field: str, value: Any, expected: str, hint: str = "") -> OptionError:
    return OptionError(f"{field}={_got(value)}: pass {expected}{hint}", field, value, expected)


def _number(value: Any) -> bool:
    return not isinstance(value, bool) and isinstance(value, (int, float)) and math.isfinite(value)


def _int_field(name: str, value: Any, low: int) -> None:
    try:
        positive_int(value, name, low=low)
    except ArgumentError as e:  # its words, with the field for --resume
        raise OptionError(str(e), name, value, f"an int >= {low}") from None


def _check_img_size(value: Any) -> None:
    low, high = IMG_SIZE_RANGE
    expected = f"an int >= {low} and <= {high}"
    if value == "auto":
        return
    sides = value if isinstance(value, (list, tuple)) and len(value) == 2 else [value]
    for side in sides:
        if isinstance(side, bool) or not isinstance(side, int) or not low <= side <= high:
            raise _refuse("img_size", value, expected, " (or [height, width] of them, or 'auto')")


def _check_anchor_settings(value: Any) -> None:
    expected = ("a dict of anchor_scale (a positive number) and aspect_ratios (a list of "
                "[x, y] positive pairs)")
    if not isinstance(value, dict) or not set(value) <= set(ANCHOR_SETTING_KEYS):
        raise _refuse("anchor_settings", value, expected)
    scale = value.get("anchor_scale", 1.0)
    if not _number(scale) or scale <= 0:
        raise _refuse("anchor_settings.anchor_scale", scale, "a positive number")
    ratios = value.get("aspect_ratios", [[1.0, 1.0]])
    if not isinstance(ratios, (list, tuple)) or not ratios or not all(
            isinstance(r, (list, tuple)) and len(r) == 2 and all(_number(x) and x > 0 for x in r)
            for r in ratios):
        raise _refuse("anchor_settings.aspect_ratios", ratios, "a list of [x, y] positive pairs")


def check_options(opts: Any) -> None:
    """Refuse a ``TrainOptions`` whose fields are of the wrong type, range or vocabulary.

    Raises:
        OptionError: the first wrong field (``.field``, ``.value``, ``.expected``).
    """
    for name in ("epochs", "batch_size", "devices", "num_nodes"):
        _int_field(name, getattr(opts, name), 1)
    for name in ("freeze_epochs", "num_workers"):
        _int_field(name, getattr(opts, name), 0)
    if opts.patience is not None:
        _int_field("patience", opts.patience, 1)
    if isinstance(opts.seed, bool) or not isinstance(opts.seed, int):
        raise _refuse("seed", opts.seed, "an int")
    if not _number(opts.lr) or opts.lr <= 0:
        raise OptionError(f"lr={opts.lr!r}: pass a positive number (the one-cycle schedule's "
                          "peak), e.g. lr=0.005", "lr", opts.lr, "a finite number in (0.0, inf)")
    if not _number(opts.ema_decay) or not 0 < opts.ema_decay < 1:
        raise _refuse("ema_decay", opts.ema_decay, "a finite number in (0.0, 1.0)")
    for name, choices in OPTION_CHOICES.items():
        if getattr(opts, name) not in choices:
            raise _refuse(name, getattr(opts, name), " or ".join(choices))
    mult = opts.backbone_lr_mult
    if not _number(mult) or not 0 < mult <= 1:
        raise _refuse("backbone_lr_mult", mult, "a number in (0, 1]",
                      ", the backbone's share of the peak lr, e.g. backbone_lr_mult=0.1")
    if mult != 1 and opts.freeze_epochs:
        raise OptionError(f"backbone_lr_mult={mult!r} with freeze_epochs={opts.freeze_epochs}: "
                          "fastai's fine_tune sets its own lr per group; use one of them",
                          "backbone_lr_mult", mult, "1.0 with freeze_epochs")
    for name in ("ema", "deterministic", "freeze_bn"):
        if not isinstance(getattr(opts, name), bool):
            raise _refuse(name, getattr(opts, name), "true or false")
    for name in ("model_name", "pretrained_backbone", "device"):
        if not isinstance(getattr(opts, name), str) or not getattr(opts, name):
            raise _refuse(name, getattr(opts, name), "a non-empty str")
    _check_img_size(opts.img_size)
    if opts.time is not None and (not _number(opts.time) or opts.time <= 0):
        raise _refuse("time", opts.time, "a positive number of seconds or None",
                      ", e.g. time=600 (the command line's --time takes 10m)")
    _check_anchor_settings(opts.anchor_settings)
