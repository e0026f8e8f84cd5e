"""BBox: one axis-aligned box in pixel coordinates, with conversions between box formats."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from efficientdet_adapter.base.errors import InvalidBBoxError

__all__ = ["BBox"]


@dataclass(frozen=True, slots=True)
class BBox:
    """An axis-aligned box in absolute pixels, stored as ``xmin, ymin, xmax, ymax`` floats.

    Coordinates follow COCO's continuous convention: a box covering a whole W x H image is
    ``(0, 0, W, H)``. Build one with a ``from_*`` constructor and read it in any format.

    Example:
        >>> b = BBox.from_xywh(10, 20, 30, 40)
        >>> b.xyxy, b.yxyx, b.area
        ((10.0, 20.0, 40.0, 60.0), (20.0, 10.0, 60.0, 40.0), 1200.0)
    """

    xmin: float
    ymin: float
    xmax: float
    ymax: float

    # -- constructors ----------------------------------------------------------------------
    @classmethod
    def from_xyxy(cls, xmin: float, ymin: float, xmax: float, ymax: float) -> "BBox":
        return cls(float(xmin), float(ymin), float(xmax), float(ymax))

    @classmethod
    def from_xywh(cls, xmin: float, ymin: float, width: float, height: float) -> "BBox":
        return cls(float(xmin), float(ymin), float(xmin) + float(width), float(ymin) + float(height))

    @classmethod
    def from_relative_xcycwh(
        cls, xc: float, yc: float, w: float, h: float, img_width: int, img_height: int
    ) -> "BBox":
        """From YOLO's normalized centre/size (each in 0..1) and the image size in pixels."""
        w_px, h_px = float(w) * img_width, float(h) * img_height
        x0, y0 = float(xc) * img_width - w_px / 2, float(yc) * img_height - h_px / 2
        return cls(x0, y0, x0 + w_px, y0 + h_px)

    # -- views -----------------------------------------------------------------------------
    @property
    def xyxy(self) -> tuple[float, float, float, float]:
        return (self.xmin, self.ymin, self.xmax, self.ymax)

    @property
    def yxyx(self) -> tuple[float, float, float, float]:
        return (self.ymin, self.xmin, self.ymax, self.xmax)

    @property
    def xywh(self) -> tuple[float, float, float, float]:
        return (self.xmin, self.ymin, self.width, self.height)

    @property
    def width(self) -> float:
        return self.xmax - self.xmin

    @property
    def height(self) -> float:
        return self.ymax - self.ymin

    @property
    def area(self) -> float:
        return max(self.width, 0.0) * max(self.height, 0.0)

    def relative_xcycwh(self, img_width: int, img_height: int) -> tuple[float, float, float, float]:
        """YOLO's normalized ``(xc, yc, w, h)`` for an image of the given size."""
        return (
            (self.xmin + self.xmax) / 2 / img_width,
            (self.ymin + self.ymax) / 2 / img_height,
            self.width / img_width,
            self.height / img_height,
        )

    # -- checks ----------------------------------------------------------------------------
    def to_tensor(self):
        """``torch.tensor(xyxy, dtype=float)`` (IceVision's ``BBox.to_tensor``)."""
        import torch  # local import: boxes are plain values, torch is needed only here  # noqa: PLC0415

        return torch.tensor(self.xyxy, dtype=torch.float)

    def is_valid(self) -> bool:
        """True when the box has a positive width and height."""
        return self.xmax > self.xmin and self.ymax > self.ymin

    def clipped(self, img_w: float, img_h: float) -> "BBox":
        """A new box: this one clipped to a ``img_w`` x ``img_h`` image (this box is unchanged:
        the library's boxes are values; [`autofix`][efficientdet_adapter.records.bbox.BBox.autofix] is
        IceVision's in-place version).

        Raises:
            InvalidBBoxError: if nothing of the box is left after clipping (zero or negative width
                or height), saying by how much it missed the image.
        """
        fixed = BBox(
            min(max(self.xmin, 0.0), img_w),
            min(max(self.ymin, 0.0), img_h),
            min(max(self.xmax, 0.0), img_w),
            min(max(self.ymax, 0.0), img_h),
        )
        if not fixed.is_valid():
            raise InvalidBBoxError(
                f"box {self.xyxy} (xyxy) has no area inside the {img_w}x{img_h} image after "
                f"clipping (clipped: {fixed.xyxy}); remove it or fix its coordinates"
            )
        return fixed

    def autofix(self, img_w: float, img_h: float, record_id: Any = None) -> "BBox":
        """IceVision's ``autofix``: clip this box to the image **in place** and return it.

        IceVision's returned ``True``/``False`` (fixed or not); this returns the box itself,
        so that ``box.autofix(w, h).xyxy`` reads the result. For a new box and this one
        unchanged, use [`clipped`][efficientdet_adapter.records.bbox.BBox.clipped].

        Raises:
            InvalidBBoxError: (an
                [`InvalidDataError`][efficientdet_adapter.base.errors.InvalidDataError], as
                IceVision's) nothing of the box is left inside the image.
        """
        fixed = self.clipped(img_w, img_h)
        for name in ("xmin", "ymin", "xmax", "ymax"):
            object.__setattr__(self, name, getattr(fixed, name))
        return self
