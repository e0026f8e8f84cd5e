"""IceVision 0.12's ``icevision.core.mask``: not offered."""

from __future__ import annotations

from efficientdet_adapter.base.faces import MASKS, not_offered
__all__: list[str] = []

NOT_OFFERED: dict[str, str] = {
    **dict.fromkeys(['EncodedRLEs', 'Mask', 'MaskArray', 'MaskFile', 'Polygon', 'RLE', 'SemanticMaskFile', 'VocMaskFile'], MASKS),
}
__getattr__ = not_offered(__name__, NOT_OFFERED)
