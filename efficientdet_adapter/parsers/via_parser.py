"""IceVision 0.12's ``icevision.parsers.via_parser``."""

from __future__ import annotations

from efficientdet_adapter.parsers.via import VIABaseParser, VIABBoxParser, VIAParseError, via

__all__ = ["via", "VIAParseError", "VIABaseParser", "VIABBoxParser"]
