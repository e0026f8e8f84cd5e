"""IceVision 0.12's ``icevision.models.ross.efficientdet.utils``: not offered."""

from __future__ import annotations

from efficientdet_adapter.base.faces import BACKBONE_CONFIG, not_offered
__all__: list[str] = []

NOT_OFFERED: dict[str, str] = {
    **dict.fromkeys(['EfficientDetBackboneConfig'], BACKBONE_CONFIG),
}
__getattr__ = not_offered(__name__, NOT_OFFERED)
