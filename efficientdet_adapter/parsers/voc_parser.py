"""IceVision 0.12's ``icevision.parsers.voc_parser``."""

from __future__ import annotations

from efficientdet_adapter.base.faces import MASKS, not_offered
from efficientdet_adapter.parsers.voc import VOCBBoxParser, voc

__all__ = ["voc", "VOCBBoxParser"]

NOT_OFFERED: dict[str, str] = {
    **dict.fromkeys(['VOCMaskParser'], MASKS),
}
__getattr__ = not_offered(__name__, NOT_OFFERED)
