"""IceVision 0.12's ``icevision.parsers.via_parser``: not offered."""

from __future__ import annotations

from .._faces import VIA, not_offered
__all__: list[str] = []

NOT_OFFERED: dict[str, str] = {
    **dict.fromkeys(['VIABBoxParser', 'VIABaseParser', 'VIAParseError', 'via'], VIA),
}
__getattr__ = not_offered(__name__, NOT_OFFERED)
