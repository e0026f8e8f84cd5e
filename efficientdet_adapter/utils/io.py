"""IceVision 0.12's ``icevision.utils.io``: not offered."""

from __future__ import annotations

from efficientdet_adapter.base.faces import FILES, not_offered
__all__: list[str] = []

NOT_OFFERED: dict[str, str] = {
    **dict.fromkeys(['create_tmp_dir', 'extract_files', 'load_txt', 'mkdir'], FILES),
}
__getattr__ = not_offered(__name__, NOT_OFFERED)
