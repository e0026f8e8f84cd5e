"""The sizes of a model's anchors, in input pixels and in the pixels of an original image.

effdet places anchors on every level ``L`` of the feature pyramid (``min_level``..``max_level``,
3..7 for every EfficientDet): one grid point every ``2**L`` input pixels, and at each point
``num_scales`` x ``len(aspect_ratios)`` boxes (3 x 3). The square anchor of scale ``s`` has the
side ``anchor_scale * 2**L * 2**(s / num_scales)``; ``anchor_scale`` is 4 for ``efficientdet_d*``
and 3 for ``tf_efficientdet_lite*``. So the smallest anchor of a Lite model is ``3 * 8 = 24``
input pixels, whatever the ``img_size``; in an original image that is resized by ``img_size /
max(width, height)`` it covers ``24 * max(width, height) / img_size`` pixels.

Why it matters: a training box is a positive for an anchor only when their IoU reaches 0.5
(effdet's matcher). A square box of side ``b`` inside the smallest anchor ``a`` has IoU
``b**2 / a**2``; below ``a / sqrt(2)`` (17 px for Lite) no anchor reaches 0.5, and the box is
learned only through the matcher's "best anchor anyway" rule, if at all. Boxes that small want
a larger ``img_size``, or tiles
([`predict_tiled`][efficientdet_adapter.inference.tiling.predict_tiled]).

Example:
    >>> sizes = anchor_sizes("tf_efficientdet_lite0", img_size=384)
    >>> sizes.smallest, sizes.levels[0].sides
    (24.0, (24.0, 30.24, 38.1))
    >>> round(sizes.smallest_in_original(640), 1)   # a 640 px image shown to the model at 384
    40.0
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any
from efficientdet_adapter.base.errors import ModelConfigError

__all__ = ["AnchorLevel", "AnchorSizes", "anchor_sizes", "smallest_anchor", "MATCH_IOU"]

#: effdet's matcher: an anchor is a positive when its IoU with a box reaches this.
MATCH_IOU = 0.5


@dataclass(frozen=True)
class AnchorLevel:
    """The anchors of one pyramid level.

    Attributes:
        level: pyramid level ``L`` (3 = the finest).
        stride: input pixels between neighbouring anchor centres (``2**L``).
        sides: the side of the square anchor of each scale, in input pixels (rounded to 0.01).
        aspect_ratios: ``(w, h)`` multipliers that make the non-square anchors of each side.
    """

    level: int
    stride: int
    sides: tuple[float, ...]
    aspect_ratios: tuple[tuple[float, float], ...]


@dataclass(frozen=True)
class AnchorSizes:
    """A model's anchors: ``anchor_scale``, its input size, one
    [`AnchorLevel`][efficientdet_adapter.model.anchor_sizes.AnchorLevel] per level."""

    model_name: str
    img_size: tuple[int, int]  # (height, width) of the model's input
    anchor_scale: float
    levels: tuple[AnchorLevel, ...]

    @property
    def smallest(self) -> float:
        """Side of the smallest square anchor, in input pixels."""
        return self.levels[0].sides[0]

    @property
    def smallest_matchable(self) -> float:
        """Side of the smallest square box any anchor overlaps with IoU >= 0.5 (input pixels)."""
        return self.smallest * math.sqrt(MATCH_IOU)

    def scale_to_input(self, image_side: float) -> float:
        """Input pixels per original pixel for an image whose longer side is ``image_side``
        (``resize_and_pad`` fits the longer side to the input)."""
        return min(self.img_size) / float(image_side)

    def smallest_in_original(self, image_side: float) -> float:
        """[`smallest`][efficientdet_adapter.model.anchor_sizes.AnchorSizes.smallest] in the
        pixels of an image whose longer side is ``image_side``."""
        return self.smallest / self.scale_to_input(image_side)


def _config(model_or_name: Any, img_size: Any) -> Any:
    if isinstance(model_or_name, str):
        from effdet.config.model_config import get_efficientdet_config  # noqa: PLC0415

        from efficientdet_adapter.records.record import normalize_img_size  # noqa: PLC0415
        from efficientdet_adapter.model.config import list_models  # noqa: PLC0415

        if model_or_name not in list_models():
            raise ModelConfigError(
                f"{model_or_name!r} is not an effdet model name; see efficientdet.list_models()")
        config = get_efficientdet_config(model_or_name)
        size = config.image_size if img_size is None else img_size
        size = normalize_img_size(size if isinstance(size, int) else tuple(size), max_side=None,
                                  where=f"anchor sizes of {model_or_name}")
        return config, (size.height, size.width)
    from efficientdet_adapter.model.wrappers import find_bench  # noqa: PLC0415

    bench = find_bench(model_or_name)
    config = getattr(bench, "effdet_config", None) or bench.config  # effdet's (OmegaConf) config
    return config, tuple(bench.config.img_size)


def anchor_sizes(model_or_name: Any, img_size: int | tuple[int, int] | None = None
                 ) -> AnchorSizes:
    """The anchor sizes of a model (built by ``efficientdet.model``) or of an effdet config name.

    Args:
        model_or_name: a model (its own ``img_size`` and ``anchor_scale`` are used) or a model
            name such as ``"tf_efficientdet_lite0"``.
        img_size: the input size, for a model name (default: effdet's size for that name). The
            sides in input pixels do not depend on it;
            [`AnchorSizes.smallest_in_original`][efficientdet_adapter.model.anchor_sizes.AnchorSizes.smallest_in_original]
            does.

    Example:
        >>> anchor_sizes("efficientdet_d0", 512).smallest   # anchor_scale 4 x stride 8
        32.0
    """
    config, size = _config(model_or_name, img_size)
    size = (int(size[0]), int(size[1]))
    ratios = tuple((float(a), float(b)) for a, b in config.aspect_ratios)
    levels = []
    for level in range(config.min_level, config.max_level + 1):
        stride = 2 ** level
        sides = tuple(
            round(float(config.anchor_scale) * stride * 2 ** (s / config.num_scales), 2)
            for s in range(config.num_scales)
        )
        levels.append(AnchorLevel(level, stride, sides, ratios))
    return AnchorSizes(str(config.name), size, float(config.anchor_scale), tuple(levels))


def smallest_anchor(model_or_name: Any, img_size: int | tuple[int, int] | None = None,
                    image_side: float | None = None) -> float:
    """The smallest anchor's side: in input pixels, or in an original image's pixels.

    Args:
        model_or_name, img_size: as for
            [`anchor_sizes`][efficientdet_adapter.model.anchor_sizes.anchor_sizes].
        image_side: the longer side of an original image; then the answer is in its pixels.

    Example:
        >>> smallest_anchor("tf_efficientdet_lite0", 384)
        24.0
        >>> smallest_anchor("tf_efficientdet_lite0", 256, image_side=640)
        60.0
    """
    sizes = anchor_sizes(model_or_name, img_size)
    return sizes.smallest if image_side is None else sizes.smallest_in_original(image_side)
