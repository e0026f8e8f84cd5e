"""IceVision 0.12's ``icevision.core.record_utils``: not offered."""

from __future__ import annotations

from efficientdet_adapter.base.faces import INTERNAL, not_offered
__all__: list[str] = []

NOT_OFFERED: dict[str, str] = {
    **dict.fromkeys(['aggregate_records_objects'], INTERNAL),
}
__getattr__ = not_offered(__name__, NOT_OFFERED)
