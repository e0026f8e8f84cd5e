"""IceVision 0.12's ``icevision.core.exceptions``: ``AbortParseRecord``."""

from __future__ import annotations

from .._faces import not_offered
from ..errors import AutofixAbort, InvalidDataError
from ..parsers.base import AbortParseRecord

__all__ = ["AbortParseRecord", "AutofixAbort", "InvalidDataError"]

NOT_OFFERED: dict[str, str] = {}
__getattr__ = not_offered(__name__, NOT_OFFERED)
