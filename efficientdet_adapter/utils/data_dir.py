"""IceVision 0.12's ``icevision.utils.data_dir``: not offered."""

from __future__ import annotations

from efficientdet_adapter.base.faces import DOWNLOADS, not_offered
__all__: list[str] = []

NOT_OFFERED: dict[str, str] = {
    **dict.fromkeys(['get_data_dir', 'get_root_dir'], DOWNLOADS),
}
__getattr__ = not_offered(__name__, NOT_OFFERED)
