"""IceVision 0.12's ``icevision.models.inference``: ``efficientdet.end2end_detect`` does it all;
``postprocess_bbox`` maps one predicted box back to the original image."""

from __future__ import annotations

from typing import Any

from efficientdet_adapter.base.faces import INTERNAL, not_offered

__all__ = ["postprocess_bbox"]

NOT_OFFERED: dict[str, str] = {
    **dict.fromkeys(['draw_img_and_boxes', 'process_bbox_predictions'], INTERNAL),
}
__getattr__ = not_offered(__name__, NOT_OFFERED)


def postprocess_bbox(img: Any, bbox: Any, transforms: list[Any], h_after: int,
                     w_after: int) -> tuple[int, int, int, int]:
    """A box predicted on the transformed image (``h_after`` x ``w_after``, made by
    ``tfms.A.resize_and_pad``: the long side resized, the short one padded) in pixels of the
    original PIL ``img``, as ``(xmin, ymin, xmax, ymax)`` ints clipped to it."""
    w_before, h_before = img.size
    scale = min(w_after / w_before, h_after / h_before)
    pad_x = (w_after - w_before * scale) / 2 if _centered(transforms) else 0.0
    pad_y = (h_after - h_before * scale) / 2 if _centered(transforms) else 0.0
    xmin, ymin, xmax, ymax = bbox.xyxy
    out = ((xmin - pad_x) / scale, (ymin - pad_y) / scale, (xmax - pad_x) / scale,
           (ymax - pad_y) / scale)
    return (int(max(0, min(w_before, out[0]))), int(max(0, min(h_before, out[1]))),
            int(max(0, min(w_before, out[2]))), int(max(0, min(h_before, out[3]))))


def _centered(transforms: list[Any]) -> bool:
    """Whether the padding transform centers the image (albumentations' PadIfNeeded default)."""
    for t in transforms:
        position = getattr(t, "position", None)
        if type(t).__name__ == "PadIfNeeded":
            return str(getattr(position, "value", position) or "center") == "center"
    return True
