"""IceVision 0.12's ``icevision.tfms.batch.batch_transform``: not offered."""

from __future__ import annotations

from ..._faces import BATCH_TFMS, not_offered
__all__: list[str] = []

NOT_OFFERED: dict[str, str] = {
    **dict.fromkeys(['BatchTransform'], BATCH_TFMS),
}
__getattr__ = not_offered(__name__, NOT_OFFERED)
