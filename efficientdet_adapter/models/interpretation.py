"""IceVision's ``models.interpretation``: the per-image losses behind ``plot_top_losses``.

The EfficientDet implementation lives in
[`efficientdet.interpretation`][efficientdet_adapter.efficientdet.interpretation]
(``efficientdet.interp``); this module is where IceVision's notebooks import from.
"""

from ..efficientdet.interpretation import get_samples_losses, plot_top_losses, samples_losses

__all__ = ["get_samples_losses", "plot_top_losses", "samples_losses"]

#: IceVision 0.12's names of ``icevision.models.interpretation`` not offered here, and why.
NOT_OFFERED: dict[str, str] = dict.fromkeys(
    ["sort_losses", "get_stats", "get_weighted_sum", "add_annotations"],
    "the loss table helpers: get_samples_losses / plot_top_losses (and samples_losses)")
