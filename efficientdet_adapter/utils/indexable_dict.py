"""IceVision 0.12's ``icevision.utils.indexable_dict``: not offered."""

from __future__ import annotations

from efficientdet_adapter.base.faces import INDEXABLE, not_offered
__all__: list[str] = []

NOT_OFFERED: dict[str, str] = {
    **dict.fromkeys(['IndexableDict'], INDEXABLE),
}
__getattr__ = not_offered(__name__, NOT_OFFERED)
