"""IceVision 0.12's ``icevision.utils.logger_utils``: not offered."""

from __future__ import annotations

from efficientdet_adapter.base.faces import LOGGING, not_offered
__all__: list[str] = []

NOT_OFFERED: dict[str, str] = {
    **dict.fromkeys(['ReplaySink', 'autofix_log', 'logger_default_config'], LOGGING),
}
__getattr__ = not_offered(__name__, NOT_OFFERED)
