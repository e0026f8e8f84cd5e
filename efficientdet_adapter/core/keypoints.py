"""IceVision 0.12's ``icevision.core.keypoints``: not offered."""

from __future__ import annotations

from .._faces import KEYPOINTS, not_offered
__all__: list[str] = []

NOT_OFFERED: dict[str, str] = {
    **dict.fromkeys(['KeyPoints', 'KeypointConnection', 'KeypointsMetadata'], KEYPOINTS),
}
__getattr__ = not_offered(__name__, NOT_OFFERED)
