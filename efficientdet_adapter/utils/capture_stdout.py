"""IceVision 0.12's ``icevision.utils.capture_stdout``: not offered."""

from __future__ import annotations

from .._faces import INTERNAL, not_offered
__all__: list[str] = []

NOT_OFFERED: dict[str, str] = {
    **dict.fromkeys(['CaptureStdout'], INTERNAL),
}
__getattr__ = not_offered(__name__, NOT_OFFERED)
