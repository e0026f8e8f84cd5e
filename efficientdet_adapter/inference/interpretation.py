"""Which images does the model get most wrong? Per-image losses and ``plot_top_losses``.

``efficientdet.interp`` is this module, so IceVision's
``model_type.interp.plot_top_losses(model, valid_ds, sort_by="class_loss", n_samples=4)`` runs.
Losses are computed one image at a time in eval mode (BatchNorm on its running statistics, so
an image's loss does not depend on the others), with IceVision's names for EfficientDet:
``effdet_total_loss`` (effdet's weighted total), ``class_loss``, ``box_loss`` and
``loss_total`` (``class_loss + box_loss``).

Example:
    >>> samples, preds, stats = efficientdet.interp.plot_top_losses(
    ...     model, valid_ds, sort_by="box_loss", n_samples=4, save_path="top.png")  # doctest: +SKIP
    >>> stats["box_loss"]["max"]                                                     # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from efficientdet_adapter.records.predictions import Prediction
from efficientdet_adapter.records.record import Record
from efficientdet_adapter.base.errors import ArgumentError, UsageError

__all__ = ["LossSample", "get_samples_losses", "losses_stats", "plot_top_losses", "samples_losses"]

#: IceVision's names of EfficientDet's losses, in the order they are shown.
LOSS_NAMES = ("effdet_total_loss", "class_loss", "box_loss", "loss_total")


@dataclass
class LossSample:
    """One dataset item and its losses (IceVision's sample "plus losses")."""

    record: Record
    losses: dict[str, float] = field(default_factory=dict)

    @property
    def filepath(self) -> Path | None:
        return self.record.filepath

    @property
    def record_id(self) -> Any:
        return self.record.record_id


def _loss_names(losses: Mapping[str, Any]) -> dict[str, float]:
    out = {
        "effdet_total_loss": float(losses["loss"]),
        "class_loss": float(losses["class_loss"]),
        "box_loss": float(losses["box_loss"]),
    }
    out["loss_total"] = out["class_loss"] + out["box_loss"]
    return out


def samples_losses(model: nn.Module, dataset: Any) -> tuple[list[LossSample], list[Prediction]]:
    """Every item's losses and prediction, in dataset order.

    The predictions are in the pixels of the transformed image, which each carries in ``img``
    (un-normalized), beside its ground truth (the transformed record).
    """
    from efficientdet_adapter.pictures.draw import display_image  # noqa: PLC0415
    from efficientdet_adapter.loop.dataloaders import build_valid_batch  # noqa: PLC0415
    from efficientdet_adapter.loop.steps import validation_step  # noqa: PLC0415

    samples: list[LossSample] = []
    preds: list[Prediction] = []
    device = next(model.parameters()).device
    config = getattr(model, "config", None)
    mean_std = {} if config is None else {"mean": config.mean, "std": config.std}
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            for i in range(len(dataset)):  # one image at a time: losses per image
                item = dataset[i]
                (images, targets), records = build_valid_batch([item])
                targets = {k: _to(v, device) for k, v in targets.items()}
                losses, [pred] = validation_step(model, ((images.to(device), targets), records))
                pred.img = display_image(item.img, **mean_std)  # the pixels its boxes refer to
                samples.append(LossSample(dataset.records[i] if hasattr(dataset, "records")
                                          else records[0], _loss_names(losses)))
                preds.append(pred)
    finally:
        model.train(was_training)
    return samples, preds


def _to(value: Any, device: torch.device) -> Any:
    if isinstance(value, (list, tuple)):
        return [v.to(device) for v in value]
    return value.to(device) if isinstance(value, torch.Tensor) else value


def losses_stats(samples: Sequence[LossSample]) -> dict[str, dict[str, float]]:
    """Per loss: ``min``, ``max``, ``mean`` and the 1/25/50/75/99th percentiles (IceVision's)."""
    stats: dict[str, dict[str, float]] = {}
    for name in LOSS_NAMES:
        values = np.array([s.losses[name] for s in samples], dtype=np.float64)
        if not len(values):
            continue
        q = np.quantile(values, [0.01, 0.25, 0.5, 0.75, 0.99])
        stats[name] = {"min": float(values.min()), "max": float(values.max()),
                       "mean": float(values.mean()),
                       **{k: float(v) for k, v in zip(("1ile", "25ile", "50ile", "75ile", "99ile"), q)}}
    return stats


def _sort_key(sort_by: str | Mapping[str, Any], samples: Sequence[LossSample]) -> str:
    """The loss to sort by; a weighted ``sort_by`` adds ``loss_weighted`` to every sample."""
    if isinstance(sort_by, str):
        if sort_by not in LOSS_NAMES:
            raise ArgumentError(f"sort_by={sort_by!r}: sort by one of {list(LOSS_NAMES)}, or by "
                             '{"method": "weighted", "weights": {loss: weight, ...}}')
        return sort_by
    if sort_by.get("method") != "weighted":
        raise ArgumentError(f"sort_by method {sort_by.get('method')!r}: the only method is 'weighted'")
    weights = dict(sort_by.get("weights") or {})
    expected = {"effdet_total_loss", "class_loss", "box_loss"}
    unknown = sorted(set(weights) - set(LOSS_NAMES))
    if unknown or not weights:
        raise ArgumentError(f"sort_by weights {sorted(weights)}: give a weight for losses among "
                         f"{sorted(expected)} (unknown: {unknown})")
    for s in samples:
        s.losses["loss_weighted"] = float(sum(s.losses[k] * w for k, w in weights.items()))
    return "loss_weighted"


def plot_top_losses(
    model: nn.Module,
    dataset: Any,
    sort_by: str | Mapping[str, Any] = "loss_total",
    n_samples: int = 5,
    *,
    ncols: int = 1,
    save_path: str | Path | None = None,
    show: bool = True,
    **ignored: Any,
) -> tuple[list[LossSample], list[Prediction], dict[str, dict[str, float]]]:
    """Sort the dataset's images by a loss, draw the ``n_samples`` worst (truth beside
    prediction, losses in the title) and return IceVision's triple.

    Args:
        model: the model from ``efficientdet.model``.
        dataset: a [`Dataset`][efficientdet_adapter.records.dataset.Dataset] with annotations (the
            validation set, with its deterministic transform).
        sort_by: a loss name (`LOSS_NAMES`) or IceVision's
            ``{"method": "weighted", "weights": {"class_loss": 1, "box_loss": 0.5}}``.
        n_samples: how many images to draw.
        save_path: write the figure as a PNG.
        show: display the figure when running inside Jupyter.

    Returns:
        ``(sorted_samples, sorted_preds, losses_stats)``: the samples with their losses and the
        predictions, worst first, and per-loss statistics over the dataset.
    """
    from efficientdet_adapter.pictures.draw import finish  # noqa: PLC0415
    from efficientdet_adapter.pictures.notebook import withdraw  # noqa: PLC0415
    from efficientdet_adapter.inference.prediction import show_preds  # noqa: PLC0415

    samples, preds = samples_losses(model, dataset)
    if not samples:
        raise UsageError("plot_top_losses: the dataset is empty")
    key = _sort_key(sort_by, samples)
    order = sorted(range(len(samples)), key=lambda i: samples[i].losses[key], reverse=True)
    sorted_samples = [samples[i] for i in order]
    sorted_preds = [preds[i] for i in order]
    titles = [
        " ".join(f"{k}={v:.4f}" for k, v in s.losses.items() if k in (key, "class_loss", "box_loss"))
        for s in sorted_samples[:n_samples]
    ]
    fig = show_preds(sorted_preds[:n_samples], ncols=ncols, annotations=titles)
    finish(fig, save_path)
    if not show:
        withdraw(fig)
    return sorted_samples, sorted_preds, losses_stats(samples)


def get_samples_losses(samples_plus_losses: Sequence[LossSample]) -> list[dict[str, Any]]:
    """One dict per sample: its losses and ``filepath`` (IceVision's helper, for a DataFrame)."""
    return [{**s.losses, "filepath": s.filepath} for s in samples_plus_losses]
