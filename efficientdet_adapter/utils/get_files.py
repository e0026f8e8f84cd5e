"""IceVision 0.12's ``icevision.utils.get_files``."""

from __future__ import annotations

from efficientdet_adapter.base.faces import FILES, not_offered
from efficientdet_adapter.compat import get_image_files

__all__ = ["get_image_files"]

NOT_OFFERED: dict[str, str] = {
    **dict.fromkeys(['get_files'], FILES),
}
__getattr__ = not_offered(__name__, NOT_OFFERED)
