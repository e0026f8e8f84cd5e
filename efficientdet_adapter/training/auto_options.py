"""``train --img-size auto`` and ``--anchors auto``: the input size and anchors chosen from the
training boxes, before the model is built.

Both follow the best possible recall of
`anchor_fit` (the share of training boxes that some
anchor matches at IoU >= 0.5): the size is the smallest multiple of 128 from 256 up to the cap
(1024, and the largest image side rounded up to 128) that reaches 95%; the anchors are effdet's
unless a fitted ``anchor_scale`` / ``aspect_ratios`` raises that share by half a point or more.
The choices replace ``"auto"`` in the options, so ``last.pt`` (``--resume``) and every checkpoint
(its model config: ``predict``, ``eval``, ``export``) keep the values, not the word.

Example:
    >>> opts = TrainOptions(img_size="auto", anchors="auto")       # doctest: +SKIP
    >>> for line in resolve_auto_options(opts, train_records):    # doctest: +SKIP
    ...     print(line)
    >>> opts.img_size, opts.anchor_settings                        # doctest: +SKIP
    (768, {'anchor_scale': 2.0, 'aspect_ratios': [[1.06, 0.95], ...]})
"""

from __future__ import annotations

from typing import Any, Literal, get_args

from efficientdet_adapter.base.errors import UsageError

__all__ = ["Anchors", "ANCHOR_CHOICES", "needs_resolving", "resolve_auto_options"]

#: ``--anchors``: effdet's own, or fitted to the training boxes.
Anchors = Literal["default", "auto"]
ANCHOR_CHOICES: tuple[str, ...] = get_args(Anchors)


def needs_resolving(opts: Any) -> bool:
    """Whether ``opts`` (a [`TrainOptions`][efficientdet_adapter.app.runs.TrainOptions]) still holds an
    ``"auto"`` that `resolve_auto_options` replaces."""
    return opts.img_size == "auto" or (opts.anchors == "auto" and not opts.anchor_settings)


def resolve_auto_options(opts: Any, train_records) -> list[str]:
    """Replace ``opts.img_size == "auto"`` and fill ``opts.anchor_settings`` for
    ``opts.anchors == "auto"`` from ``train_records``; returns the lines that say what was chosen
    and why (before/after best possible recall). Options without ``"auto"`` are left as they are.

    Raises:
        UsageError: an ``anchors`` value other than `ANCHOR_CHOICES`, or ``"auto"`` for
            training images without a single box.
    """
    from efficientdet_adapter.model.anchor_fit import (MAX_AUTO_SIZE, MIN_AUTO_SIZE, TARGET_BPR,  # noqa: PLC0415
                                          choose_img_size, fit_anchors, input_boxes,
                                          size_cap)

    if opts.anchors not in ANCHOR_CHOICES:
        raise UsageError(f"--anchors {opts.anchors!r}: choose {' or '.join(ANCHOR_CHOICES)}")
    wanted = {f"--{name} auto": fix for name, value, fix in (
        ("img-size", opts.img_size, "--img-size N"),
        ("anchors", "" if opts.anchor_settings else opts.anchors, "--anchors default"))
        if value == "auto"}
    if wanted and not any(r.bboxes for r in train_records):  # nothing to fit: 100% of nothing
        raise UsageError(
            f"{' '.join(wanted)}: the {len(train_records)} training images hold no boxes to fit "
            f"to; annotate objects in them, or give {' and '.join(wanted.values())}")
    lines: list[str] = []
    if opts.img_size == "auto":
        size, match = choose_img_size(train_records, opts.model_name)
        reached = "reaches" if match.share >= TARGET_BPR else "is the highest (none reaches"
        lines.append(
            f"--img-size auto: {size} px (best possible recall {match.share:.1%} {reached} "
            f"{TARGET_BPR:.0%}{')' if match.share < TARGET_BPR else ''}; candidates: multiples "
            f"of 128 from {MIN_AUTO_SIZE} to {size_cap(train_records)}, the smaller of "
            f"{MAX_AUTO_SIZE} and the largest image side rounded up)")
        opts.img_size = size
    if opts.anchors == "auto" and not opts.anchor_settings:
        fit = fit_anchors(input_boxes(train_records, opts.img_size), opts.model_name,
                          opts.img_size)
        lines.append(fit.summary())
        opts.anchor_settings = fit.after.settings.effdet_kwargs()
    return lines
