"""Small boxes get a remedy: when most training boxes are smaller than the smallest anchor at
the chosen input size, ``train`` trains at a larger size or with smaller anchors.

A box is *small* when its side (``sqrt(w * h)``, in the model's input pixels after
``resize_and_pad``) is below the smallest square anchor (``anchor_scale * 2**min_level``: 24 px
for Lite0); no anchor then reaches IoU 0.5 with it and the detector barely learns it (a set of
4-20 px digits reached AP50 0.003). When more than `SMALL_SHARE` of the boxes are small,
`remedy_small_boxes` picks, in this order:

1. a larger ``img_size`` (a multiple of 128 up to `size_cap`:
   the largest image side, as upscaling adds no detail; with a ``--time`` budget at most
   `MAX_WORK` times the work a step, so that enough epochs still fit), the smallest at
   which no more than `SMALL_SHARE` of the boxes are small;
2. else smaller anchors: `fit_anchors` (``anchor_scale`` and
   aspect ratios with the highest best possible recall).

It sets ``opts.img_size`` or ``opts.anchor_settings``, which the model's config and so every
checkpoint keep (``predict``, ``eval`` and ``export`` build the same model), and returns the one
line that says which remedy and why. ``opts.small_boxes == "keep"`` turns it off.

Example:
    >>> opts = TrainOptions(img_size=256)                       # doctest: +SKIP
    >>> remedy_small_boxes(opts, train_records)                 # doctest: +SKIP
    'small boxes: 100% of the 40 training boxes are below the smallest anchor ...'
"""

from __future__ import annotations

import math
from typing import Any, Literal, get_args

import numpy as np


__all__ = ["SMALL_BOX_CHOICES", "SmallBoxes", "SMALL_SHARE", "MAX_WORK", "small_share",
           "remedy_small_boxes"]

#: ``train --small-boxes``: pick a remedy when most boxes are small, or keep the options as given.
SmallBoxes = Literal["remedy", "keep"]
SMALL_BOX_CHOICES: tuple[str, ...] = get_args(SmallBoxes)
#: The share of small training boxes above which a remedy is picked ("most boxes").
SMALL_SHARE = 0.5
#: With ``--time``: a larger size may cost at most this many times the work of a step (the
#: square of the side ratio), so the budget still fits a useful number of epochs.
MAX_WORK = 4.0


def _smallest_anchor(model_name: str, settings: Any) -> float:
    from effdet.config import get_efficientdet_config  # noqa: PLC0415

    cfg = get_efficientdet_config(model_name)
    return float(settings.anchor_scale) * 2 ** cfg.min_level


def small_share(records, model_name: str, img_size: int,
                anchor_settings: dict | None = None) -> tuple[float, int, float]:
    """``(share of small boxes, boxes, smallest anchor side)`` of ``records`` at ``img_size``."""
    from efficientdet_adapter.model.anchor_fit import AnchorSettings, input_boxes  # noqa: PLC0415

    boxes = input_boxes(records, img_size)
    settings = AnchorSettings.from_effdet_kwargs(model_name, anchor_settings)
    smallest = _smallest_anchor(model_name, settings)
    if not len(boxes):
        return 0.0, 0, smallest
    side = np.sqrt(np.clip(boxes[:, 2] - boxes[:, 0], 0, None)
                   * np.clip(boxes[:, 3] - boxes[:, 1], 0, None))
    return float((side < smallest).mean()), len(boxes), smallest


def remedy_small_boxes(opts: Any, train_records) -> str | None:
    """Pick a remedy for ``opts`` (a [`TrainOptions`][efficientdet_adapter.app.runs.TrainOptions],
    changed in place) when most
    ``train_records`` boxes are small (see the module docstring); the line that says which, or
    ``None`` when nothing was changed (few small boxes, ``small_boxes="keep"``, anchors already
    fitted or given). ``opts.small_boxes`` was checked when the options were made
    (`check_options`).
    """
    from efficientdet_adapter.model.anchor_fit import STRIDE, fit_anchors, input_boxes, size_cap  # noqa: PLC0415

    if opts.small_boxes == "keep" or opts.anchor_settings or not isinstance(opts.img_size, int):
        return None
    size = opts.img_size
    share, n, smallest = small_share(train_records, opts.model_name, size)
    if share <= SMALL_SHARE:
        return None
    why = (f"small boxes: {share:.0%} of the {n} training boxes are below the smallest anchor "
           f"({smallest:.0f} px at --img-size {size})")
    top = size_cap(train_records)
    if opts.time:
        top = min(top, int(size * math.sqrt(MAX_WORK)) // STRIDE * STRIDE)
    for bigger in range(size + STRIDE, top + 1, STRIDE):
        share_there, _, _ = small_share(train_records, opts.model_name, bigger)
        if share_there <= SMALL_SHARE:
            opts.img_size = bigger
            return (f"{why}; remedy: --img-size {bigger} ({share_there:.0%} small there, "
                    f"{(bigger / size) ** 2:.1f}x the work a step)")
    fit = fit_anchors(input_boxes(train_records, size), opts.model_name, size)
    if not fit.changed:
        return f"{why}; no remedy found: neither a larger size (up to {top} px) nor other anchors"
    opts.anchor_settings = fit.after.settings.effdet_kwargs()
    reason = ("the images are no larger" if top <= size else
              f"no size up to {top} px is enough" + (" within --time" if opts.time else ""))
    return (f"{why}; remedy: smaller anchors, {fit.after.settings.describe()} (smallest "
            f"{_smallest_anchor(opts.model_name, fit.after.settings):.0f} px; best possible "
            f"recall {fit.before.share:.0%} -> {fit.after.share:.0%}), as {reason}")
