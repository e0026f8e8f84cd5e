"""IceVision 0.12's ``icevision.engines.lightning.lightning_model_adapter``: not offered."""

from __future__ import annotations

from ..._faces import LIGHTNING_BASE, not_offered
__all__: list[str] = []

NOT_OFFERED: dict[str, str] = {
    **dict.fromkeys(['LightningModelAdapter'], LIGHTNING_BASE),
}
__getattr__ = not_offered(__name__, NOT_OFFERED)
