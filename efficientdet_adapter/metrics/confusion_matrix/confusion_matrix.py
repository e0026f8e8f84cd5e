"""IceVision 0.12's ``icevision.metrics.confusion_matrix.confusion_matrix``: not offered."""

from __future__ import annotations

from ..._faces import CONFUSION, not_offered
__all__: list[str] = []

NOT_OFFERED: dict[str, str] = {
    **dict.fromkeys(['SimpleConfusionMatrix'], CONFUSION),
}
__getattr__ = not_offered(__name__, NOT_OFFERED)
