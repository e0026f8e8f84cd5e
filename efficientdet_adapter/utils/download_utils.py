"""IceVision 0.12's ``icevision.utils.download_utils``: not offered."""

from __future__ import annotations

from efficientdet_adapter.base.faces import DOWNLOADS, not_offered
__all__: list[str] = []

NOT_OFFERED: dict[str, str] = {
    **dict.fromkeys(['download_and_extract', 'download_and_extract_gdrive', 'download_gdrive', 'download_url'], DOWNLOADS),
}
__getattr__ = not_offered(__name__, NOT_OFFERED)
