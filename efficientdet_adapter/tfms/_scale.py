"""Scale jitter that never makes an empty image (``--aug scale``'s random scale)."""

from __future__ import annotations

from typing import Any

import cv2
import numpy as np

from efficientdet_adapter.base.version_compat import import_quietly

_albu = import_quietly("albumentations")  # without its import notices (version_compat)

__all__ = ["RandomScale"]


class RandomScale(_albu.RandomScale):
    """albumentations' ``RandomScale`` that keeps every side at least 1 px: its own rounds a
    1 px side scaled by 0.5 down to 0 px, which OpenCV refuses (a 2 x 1024 image at 256 px is
    1 px wide before the jitter). Boxes are kept in relative coordinates, so they follow."""

    def apply(self, img: np.ndarray, scale: float, **params: Any) -> np.ndarray:
        height, width = img.shape[:2]
        size = (max(1, int(width * scale)), max(1, int(height * scale)))
        area = self.area_for_downscale in ("image", "image_mask") and scale < 1.0
        out = cv2.resize(img, size, interpolation=cv2.INTER_AREA if area else self.interpolation)
        return out[..., None] if img.ndim == 3 and out.ndim == 2 else out
