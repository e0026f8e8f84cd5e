"""IceVision 0.12's ``icevision.core.tasks``: not offered (records have no task components here)."""

from __future__ import annotations

from .._faces import COMPONENTS, not_offered
__all__: list[str] = []

NOT_OFFERED: dict[str, str] = {
    **dict.fromkeys(['Task', 'classification', 'common', 'detection'], COMPONENTS),
}
__getattr__ = not_offered(__name__, NOT_OFFERED)
