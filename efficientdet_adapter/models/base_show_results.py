"""IceVision 0.12's ``icevision.models.base_show_results``: not offered."""

from __future__ import annotations

from efficientdet_adapter.base.faces import INTERNAL, not_offered
__all__: list[str] = []

NOT_OFFERED: dict[str, str] = {
    **dict.fromkeys(['base_show_results'], INTERNAL),
}
__getattr__ = not_offered(__name__, NOT_OFFERED)
