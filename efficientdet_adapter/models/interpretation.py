"""IceVision's ``models.interpretation``: the per-image losses behind ``plot_top_losses``.

The EfficientDet implementation lives in
[`efficientdet.interpretation`][efficientdet_adapter.inference.interpretation]
(``efficientdet.interp``); this module is where IceVision's notebooks import from.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from efficientdet_adapter.inference.interpretation import get_samples_losses, plot_top_losses, samples_losses
from efficientdet_adapter.base.errors import UsageError

__all__ = ["get_samples_losses", "plot_top_losses", "samples_losses", "get_stats",
           "get_weighted_sum", "sort_losses"]

#: IceVision 0.12's names of ``icevision.models.interpretation`` not offered here, and why.
NOT_OFFERED: dict[str, str] = dict.fromkeys(
    ["add_annotations"],
    "the loss table helpers: get_samples_losses / plot_top_losses (and samples_losses)")


def get_stats(values: Sequence[float]) -> dict[str, float]:
    """``min``, ``max``, ``mean`` and the 1/25/50/75/99th percentiles (``"25ile"``...) of
    ``values`` (IceVision's loss summary).

    Example:
        >>> get_stats([0, 1, 2, 3])["50ile"]
        1.5
    """
    arr = np.asarray(values)
    out = {"min": arr.min(), "max": arr.max(), "mean": arr.mean()}
    for q in (1, 25, 50, 75, 99):
        out[f"{q}ile"] = np.quantile(arr, q / 100)
    return out


def get_weighted_sum(sample: Any, weights: dict[str, float]) -> Any:
    """Set ``sample.losses["loss_weighted"]`` to the sum of its losses times ``weights``."""
    sample.losses["loss_weighted"] = sum(sample.losses[k] * w for k, w in weights.items())
    return sample


def sort_losses(samples: list[Any], preds: list[Any], by: str | dict = "loss_total"
                ) -> tuple[list[Any], list[Any], list[str]]:
    """``samples`` (with a ``losses`` dict) and their ``preds``, highest loss first, and each
    sample's ``losses["text"]``. ``by``: a loss name, or ``{"method": "weighted", "weights":
    {loss: weight}}`` (one weight per loss), which sorts by their weighted sum.

    Raises:
        UsageError: ``by`` names no loss of the samples, or the weights miss a loss.
    """
    losses = [k for k in samples[0].losses if "loss" in k and k not in
              ("loss_total", "effdet_total_loss")]
    key = by
    if isinstance(by, dict):
        if by.get("method") != "weighted" or set(by.get("weights", {})) != set(losses):
            raise UsageError(f"sort_losses: by must be {{'method': 'weighted', 'weights': "
                             f"{{...}}}} with one weight for each of {sorted(losses)}")
        samples = [get_weighted_sum(s, by["weights"]) for s in samples]
        key = "loss_weighted"
    elif by not in [*losses, "loss_total"]:
        raise UsageError(f"sort_losses: by={by!r} is not one of {[*losses, 'loss_total']}")
    order = sorted(range(len(samples)), key=lambda i: samples[i].losses[key], reverse=True)
    sorted_samples = [samples[i] for i in order]
    annotations = [s.losses["text"] for s in sorted_samples]
    if isinstance(by, dict):
        annotations = [f"loss_weighted: {round(s.losses['loss_weighted'], 5)}\n{a}"
                       for a, s in zip(annotations, sorted_samples)]
    return sorted_samples, [preds[i] for i in order], annotations
