"""IceVision's ``models.interpretation``: the per-image losses behind ``plot_top_losses``.

The EfficientDet implementation lives in :mod:`efficientdet.interpretation`
(``efficientdet.interp``); this module is where IceVision's notebooks import from.
"""

from ..efficientdet.interpretation import get_samples_losses, plot_top_losses, samples_losses

__all__ = ["get_samples_losses", "plot_top_losses", "samples_losses"]
