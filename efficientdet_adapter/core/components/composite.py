"""IceVision 0.12's ``icevision.core.components.composite``: not offered."""

from __future__ import annotations

from ..._faces import COMPONENTS, not_offered
__all__: list[str] = []

NOT_OFFERED: dict[str, str] = {
    **dict.fromkeys(['Component', 'Composite', 'TaskComponent', 'TaskComposite'], COMPONENTS),
}
__getattr__ = not_offered(__name__, NOT_OFFERED)
