"""IceVision 0.12's ``icevision.core.exceptions``: ``AbortParseRecord``."""

from __future__ import annotations

from efficientdet_adapter.base.faces import not_offered
from efficientdet_adapter.base.errors import AutofixAbort, InvalidDataError
from efficientdet_adapter.parsers.report import AbortParseRecord

__all__ = ["AbortParseRecord", "AutofixAbort", "InvalidDataError"]

NOT_OFFERED: dict[str, str] = {}
__getattr__ = not_offered(__name__, NOT_OFFERED)
