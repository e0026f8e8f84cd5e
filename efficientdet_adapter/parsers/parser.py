"""IceVision 0.12's ``icevision.parsers.parser``."""

from __future__ import annotations

from efficientdet_adapter.base.faces import PARSER_INTERFACE, not_offered
from efficientdet_adapter.parsers.base import Parser

__all__ = ["Parser"]

NOT_OFFERED: dict[str, str] = {
    **dict.fromkeys(['ParserInterface'], PARSER_INTERFACE),
}
__getattr__ = not_offered(__name__, NOT_OFFERED)
