"""IceVision 0.12's ``icevision.core.record_type``: not offered."""

from __future__ import annotations

from efficientdet_adapter.base.faces import COMPONENTS, not_offered
__all__: list[str] = []

NOT_OFFERED: dict[str, str] = {
    **dict.fromkeys(['RecordType'], COMPONENTS),
}
__getattr__ = not_offered(__name__, NOT_OFFERED)
