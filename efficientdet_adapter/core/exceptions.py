"""IceVision 0.12's ``icevision.core.exceptions``: ``AbortParseRecord``."""

from __future__ import annotations

from .._faces import ERRORS, not_offered
from ..errors import InvalidDataError
from ..parsers.base import AbortParseRecord

__all__ = ["AbortParseRecord", "InvalidDataError"]

NOT_OFFERED: dict[str, str] = {
    **dict.fromkeys(['AutofixAbort'], ERRORS),
}
__getattr__ = not_offered(__name__, NOT_OFFERED)
