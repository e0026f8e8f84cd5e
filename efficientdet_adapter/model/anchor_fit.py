"""How well a model's anchors cover a dataset's boxes, and anchors and sizes fitted to them.

effdet's matcher makes an anchor a positive for a box when their IoU reaches 0.5 (it also forces
each box onto its best anchor, but a box whose best IoU is low learns badly). The *best possible
recall* (BPR) is the share of training boxes that at least one anchor matches at IoU >= 0.5,
measured where training sees them: each box after
[`resize_and_pad`][efficientdet_adapter.tfms.albumentations_adapter.resize_and_pad] (longest side to
``img_size``, centred padding), against every anchor effdet's
own ``Anchors`` generator places for that config and size (positions included), with
torchvision's ``box_iou``. Ultralytics' AutoAnchor uses the same figure.

* `anchor_match` measures it (and which pyramid level each box's best anchor is on);
* `choose_img_size` picks the smallest input size (a multiple of 128, between
  `MIN_AUTO_SIZE` and a cap: `MAX_AUTO_SIZE` and the largest image side rounded up
  to 128) at which the BPR reaches `TARGET_BPR`;
* `fit_anchors` searches effdet's ``anchor_scale`` and ``aspect_ratios`` for a higher BPR
  and keeps the default unless it gains at least `MIN_GAIN`.

`AnchorSettings` turn into the effdet config overrides that ``efficientdet.model`` takes
(``**settings.effdet_kwargs()``); the model's `ModelConfig` keeps them, so every
checkpoint carries them to ``predict``, ``eval`` and ``export``.

Example:
    >>> boxes = input_boxes(train_records, 384)                      # doctest: +SKIP
    >>> anchor_match(boxes, "tf_efficientdet_lite0", 384).share      # doctest: +SKIP
    0.87
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from efficientdet_adapter.model.config import check_model_name
from efficientdet_adapter.base.errors import ModelConfigError

__all__ = ["AnchorSettings", "AnchorMatch", "AnchorFit", "TARGET_BPR", "MIN_AUTO_SIZE",
           "MAX_AUTO_SIZE", "MIN_GAIN", "default_anchor_settings", "input_boxes", "anchor_match",
           "size_cap", "choose_img_size", "fit_anchors"]

MATCH_IOU = 0.5  # effdet's AnchorLabeler: match_threshold
#: ``--img-size auto`` wants at least this share of training boxes matchable.
TARGET_BPR = 0.95
#: ``--img-size auto`` never goes below train's default size: the BPR says nothing about how
#: much detail the backbone sees, and 128 px leaves a 1x1 deepest feature map.
MIN_AUTO_SIZE = 256
#: ``--img-size auto`` never goes above this (memory and time grow with the square of the side:
#: 1024 px is 16x the work of 256 px per image).
MAX_AUTO_SIZE = 1024
#: ``--anchors auto`` keeps effdet's anchors unless a fit raises the BPR by at least this much.
MIN_GAIN = 0.005
STRIDE = 128  # 2**max_level of every effdet config
_SCALES = (1.0, 1.25, 1.5, 2.0, 2.5, 3.0, 3.5, 4.0, 5.0, 6.0)


@dataclass(frozen=True)
class AnchorSettings:
    """effdet's anchor shape settings: ``anchor_scale`` (the square anchor of level ``L`` has the
    side ``anchor_scale * 2**L``) and ``aspect_ratios`` (``(x, y)`` side multipliers)."""

    anchor_scale: float
    aspect_ratios: tuple[tuple[float, float], ...]

    def effdet_kwargs(self) -> dict[str, object]:
        """The overrides for ``efficientdet.model(..., **kwargs)`` (plain, checkpoint-safe)."""
        return {"anchor_scale": float(self.anchor_scale),
                "aspect_ratios": [[float(x), float(y)] for x, y in self.aspect_ratios]}

    @classmethod
    def from_effdet_kwargs(cls, model_name: str, kwargs: dict | None) -> "AnchorSettings":
        """The settings a model built with ``kwargs`` uses (effdet's defaults where unset)."""
        base = default_anchor_settings(model_name)
        kwargs = kwargs or {}
        ratios = kwargs.get("aspect_ratios", base.aspect_ratios)
        return cls(float(kwargs.get("anchor_scale", base.anchor_scale)),
                   tuple((float(x), float(y)) for x, y in ratios))

    def describe(self) -> str:
        ratios = ", ".join(f"({x:.2f}, {y:.2f})" for x, y in self.aspect_ratios)
        return f"anchor_scale {self.anchor_scale:g}, aspect_ratios [{ratios}]"


def default_anchor_settings(model_name: str) -> AnchorSettings:
    """effdet's own anchor settings of ``model_name`` (e.g. 3.0 and 3 ratios for Lite0)."""
    from effdet.config import get_efficientdet_config  # noqa: PLC0415

    cfg = get_efficientdet_config(check_model_name(model_name))
    scale = cfg.anchor_scale
    if isinstance(scale, Sequence):  # a per-level list: not a config any effdet model ships
        raise ModelConfigError(f"{model_name}: per-level anchor_scale {list(scale)} is not supported")
    return AnchorSettings(float(scale), tuple((float(x), float(y)) for x, y in cfg.aspect_ratios))


def input_boxes(records, img_size: int) -> np.ndarray:
    """``[N, 4]`` xyxy boxes of ``records`` in the pixels of the model's input after
    ``resize_and_pad(img_size)`` (the geometry training and inference apply), all records."""
    from efficientdet_adapter.tfms import A, geometry  # noqa: PLC0415

    adapter = A.Adapter(A.resize_and_pad(img_size))
    out = []
    by_size: dict = {}  # (width, height) -> its geometry: one blank-image run per size
    for r in records:
        if r.bboxes:
            key = (int(r.width), int(r.height))
            if key not in by_size:
                by_size[key] = geometry(adapter, *key)
            geo = by_size[key]
            out.append(geo.to_transformed(np.array([b.xyxy for b in r.bboxes], float)))
    return np.concatenate(out) if out else np.zeros((0, 4))


@dataclass(frozen=True)
class AnchorMatch:
    """Each box's best IoU with any anchor, and the pyramid level of that anchor.

    Attributes:
        img_size: the square input side.
        settings: the anchor settings measured.
        best_iou: ``[N]`` per box.
        best_level: ``[N]`` pyramid level (3..7) of the best anchor per box.
        level_sides: ``{level: (smallest, largest)}`` square-anchor side per level (input px).
        box_wh: ``[N, 2]`` the boxes' widths and heights (input px).
    """

    img_size: int
    settings: AnchorSettings
    best_iou: np.ndarray
    best_level: np.ndarray
    level_sides: dict[int, tuple[float, float]]
    box_wh: np.ndarray | None = None

    @property
    def boxes(self) -> int:
        return int(len(self.best_iou))

    @property
    def matched(self) -> int:
        """Boxes that some anchor matches at IoU >= 0.5."""
        return int((self.best_iou >= MATCH_IOU).sum())

    @property
    def share(self) -> float:
        """The best possible recall: ``matched / boxes`` (1.0 when there is no box)."""
        return self.matched / self.boxes if self.boxes else 1.0

    def level_counts(self) -> dict[int, int]:
        """Matched boxes per level of their best anchor (every level, zeros included)."""
        ok = self.best_iou >= MATCH_IOU
        return {lv: int((ok & (self.best_level == lv)).sum()) for lv in self.level_sides}

    def summary(self) -> list[str]:
        """Lines: the BPR, then box sizes against the anchor sizes, level by level."""
        lines = [f"best possible recall at --img-size {self.img_size}: {self.share:.1%} "
                 f"({self.matched} of {self.boxes} train boxes have an anchor with IoU >= 0.5; "
                 f"{self.settings.describe()})"]
        counts = self.level_counts()
        parts = [f"P{lv} ({lo:.0f}-{hi:.0f} px): {counts[lv]}"
                 for lv, (lo, hi) in self.level_sides.items()]
        lines.append("matched boxes by the level of their best anchor: " + ", ".join(parts))
        unmatched = self.boxes - self.matched
        if unmatched:
            lines.append(f"no anchor reaches IoU 0.5 for {unmatched} boxes"
                         + self._unmatched_kinds())
        return lines

    def _unmatched_kinds(self) -> str:
        """Why the unmatched boxes are: below the smallest anchor, above the largest, or of a
        shape (or place between anchor centres) that no anchor fits."""
        if self.box_wh is None:
            return ""
        miss = self.best_iou < MATCH_IOU
        side = np.sqrt(self.box_wh[miss].prod(axis=1))
        low = min(lo for lo, _ in self.level_sides.values()) * math.sqrt(MATCH_IOU)
        high = max(hi for _, hi in self.level_sides.values()) / math.sqrt(MATCH_IOU)
        small, large = int((side < low).sum()), int((side > high).sum())
        return (f": {small} smaller than {low:.0f} px (sqrt(w*h); a larger --img-size or smaller"
                f" anchors), {large} larger than {high:.0f} px, {len(side) - small - large} of a "
                "shape or place no anchor fits (other aspect ratios)")


def _anchor_boxes(model_name: str, img_size: int, settings: AnchorSettings
                  ) -> tuple[torch.Tensor, np.ndarray, dict[int, tuple[float, float]]]:
    """effdet's anchors (xyxy, input px), the level of each, and each level's side range."""
    from effdet.anchors import Anchors  # noqa: PLC0415
    from effdet.config import get_efficientdet_config  # noqa: PLC0415

    cfg = get_efficientdet_config(check_model_name(model_name))
    anchors = Anchors(cfg.min_level, cfg.max_level, cfg.num_scales,
                      [tuple(r) for r in settings.aspect_ratios], settings.anchor_scale,
                      (img_size, img_size))
    boxes = anchors.boxes[:, [1, 0, 3, 2]]  # effdet's yxyx -> xyxy
    levels, sides = [], {}
    per_location = cfg.num_scales * len(settings.aspect_ratios)
    for lv in range(cfg.min_level, cfg.max_level + 1):
        cells = math.ceil(img_size / 2 ** lv) ** 2
        levels.append(np.full(cells * per_location, lv))
        base = settings.anchor_scale * 2 ** lv
        sides[lv] = (base, base * 2 ** ((cfg.num_scales - 1) / cfg.num_scales))
    levels = np.concatenate(levels)
    if len(levels) != len(boxes):  # effdet changed how it lays anchors out
        raise ModelConfigError(f"{len(boxes)} anchors from effdet, {len(levels)} expected")
    return boxes, levels, sides


def _pair_iou(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """IoU of ``a[i]`` with ``b[i]`` (xyxy), row by row."""
    wh = (torch.minimum(a[:, 2:], b[:, 2:]) - torch.maximum(a[:, :2], b[:, :2])).clamp(min=0)
    inter = wh[:, 0] * wh[:, 1]
    area = lambda x: (x[:, 2] - x[:, 0]) * (x[:, 3] - x[:, 1])  # noqa: E731
    union = area(a) + area(b) - inter
    return torch.where(union > 0, inter / union.clamp(min=1e-12), torch.zeros_like(inter))


def _best_nearest(b: torch.Tensor, anchors: torch.Tensor, img_size: int, levels: range,
                  per_location: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Best IoU and anchor index per box, from one candidate per anchor shape: the anchor whose
    centre is the grid point nearest the box's centre. Exact, because with the shapes fixed the
    overlap of two axis-aligned boxes only shrinks as their centres move apart on either axis."""
    centre = (b[:, :2] + b[:, 2:]) / 2
    best = torch.full((len(b),), -1.0)
    which = torch.zeros(len(b), dtype=torch.long)
    offset = 0
    for lv in levels:
        stride = 2 ** lv
        n = math.ceil(img_size / stride)
        ix = torch.round((centre[:, 0] - stride / 2) / stride).clamp(0, n - 1).long()
        iy = torch.round((centre[:, 1] - stride / 2) / stride).clamp(0, n - 1).long()
        cell = offset + (iy * n + ix) * per_location
        for a in range(per_location):
            idx = cell + a
            iou = _pair_iou(b, anchors[idx])
            better = iou > best
            best, which = torch.where(better, iou, best), torch.where(better, idx, which)
        offset += n * n * per_location
    return best.clamp(min=0), which


def _best_all_pairs(b: torch.Tensor, anchors: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Best IoU and anchor index per box over every anchor, by torchvision's ``box_iou``: the
    plain reference of `_best_nearest` (slow: boxes x anchors IoUs)."""
    from torchvision.ops import box_iou  # noqa: PLC0415

    best = torch.zeros(len(b))
    which = torch.zeros(len(b), dtype=torch.long)
    chunk = max(1, 2 ** 24 // max(1, len(anchors)))  # ~64 MB of IoUs at a time
    for start in range(0, len(b), chunk):
        best[start:start + chunk], which[start:start + chunk] = \
            box_iou(b[start:start + chunk], anchors).max(dim=1)
    return best, which


def anchor_match(boxes: np.ndarray, model_name: str, img_size: int,
                 settings: AnchorSettings | None = None, *, exhaustive: bool = False
                 ) -> AnchorMatch:
    """Each box's best IoU with ``model_name``'s anchors at ``img_size`` (square input).

    Args:
        boxes: ``[N, 4]`` xyxy in input pixels (`input_boxes`).
        settings: the anchor settings (effdet's for the model when ``None``).
        exhaustive: compare every box with every anchor (torchvision's ``box_iou``) instead of
            the nearest anchor of each shape; the same answer, slower (the tests' reference).

    Example:
        >>> m = anchor_match(np.array([[0, 0, 24, 24], [100, 100, 110, 110]]),
        ...                  "tf_efficientdet_lite0", 256)
        >>> m.share, m.best_level.tolist()
        (0.5, [3, 3])
    """
    from effdet.config import get_efficientdet_config  # noqa: PLC0415

    settings = settings or default_anchor_settings(model_name)
    anchors, levels, sides = _anchor_boxes(model_name, img_size, settings)
    b = torch.as_tensor(np.asarray(boxes, float).reshape(-1, 4), dtype=torch.float32)
    if exhaustive:
        best, which = _best_all_pairs(b, anchors)
    else:
        cfg = get_efficientdet_config(model_name)
        best, which = _best_nearest(b, anchors, img_size,
                                    range(cfg.min_level, cfg.max_level + 1),
                                    cfg.num_scales * len(settings.aspect_ratios))
    wh = (b[:, 2:] - b[:, :2]).numpy().astype(float)
    return AnchorMatch(img_size, settings, best.numpy().astype(float),
                       levels[which.numpy()] if len(b) else np.zeros(0, int), sides, wh)


def size_cap(records) -> int:
    """The largest size ``--img-size auto`` may pick: `MAX_AUTO_SIZE`, and not above the
    largest image side rounded up to a multiple of 128 (upscaling adds no detail)."""
    largest = max((max(r.width, r.height) for r in records), default=MIN_AUTO_SIZE)
    return max(MIN_AUTO_SIZE, min(MAX_AUTO_SIZE, math.ceil(largest / STRIDE) * STRIDE))


def choose_img_size(records, model_name: str, settings: AnchorSettings | None = None
                    ) -> tuple[int, AnchorMatch]:
    """The smallest multiple of 128 from `MIN_AUTO_SIZE` up to `size_cap` whose BPR
    reaches `TARGET_BPR`; when none does, the size with the highest BPR (the smallest of
    equals). Returns the size and its `AnchorMatch`."""
    best: tuple[int, AnchorMatch] | None = None
    for size in range(MIN_AUTO_SIZE, size_cap(records) + 1, STRIDE):
        match = anchor_match(input_boxes(records, size), model_name, size, settings)
        if match.share >= TARGET_BPR:
            return size, match
        if best is None or match.share > best[1].share:
            best = (size, match)
    assert best is not None  # the range always holds MIN_AUTO_SIZE
    return best


@dataclass(frozen=True)
class AnchorFit:
    """What `fit_anchors` found: the measure before (effdet's anchors) and after (the
    chosen ones, which are effdet's when no fit gained `MIN_GAIN`)."""

    before: AnchorMatch
    after: AnchorMatch

    @property
    def changed(self) -> bool:
        return self.after.settings != self.before.settings

    def summary(self) -> str:
        b, a = self.before, self.after
        if not self.changed:
            return (f"--anchors auto: effdet's anchors kept ({b.settings.describe()}): best "
                    f"possible recall {b.share:.1%}, no fit raises it by {MIN_GAIN:.1%} or more")
        return (f"--anchors auto: best possible recall {b.share:.1%} -> {a.share:.1%} "
                f"({b.settings.describe()} -> {a.settings.describe()})")


def _ratio_sets(boxes: np.ndarray, default: AnchorSettings
                ) -> list[tuple[tuple[float, float], ...]]:
    """effdet's aspect ratios, and three from the quantiles of the boxes' log(w/h)."""
    w, h = boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]
    ok = (w > 0) & (h > 0)
    sets = [default.aspect_ratios]
    if ok.any():
        log_r = np.log(w[ok] / h[ok])
        for qs in ((1 / 6, 1 / 2, 5 / 6), (0.1, 0.5, 0.9)):
            r = np.exp(np.quantile(log_r, qs))
            sets.append(tuple((round(float(math.sqrt(v)), 3), round(float(1 / math.sqrt(v)), 3))
                              for v in r))
    return sets


def fit_anchors(boxes: np.ndarray, model_name: str, img_size: int) -> AnchorFit:
    """Search ``anchor_scale`` x ``aspect_ratios`` for the highest BPR on ``boxes`` (input px).

    Candidates: ``anchor_scale`` in 1..6, and effdet's aspect ratios or three taken from the
    boxes' width/height ratios (their 1/6, 1/2 and 5/6 or 0.1, 0.5 and 0.9 quantiles), ranked by
    BPR, then mean best IoU. The winner is kept only when it beats effdet's anchors by
    `MIN_GAIN` (the number of anchors per location, and so the head, stays the same).

    Example:
        >>> tiny = np.array([[0., 0., 12., 12.], [8., 8., 20., 20.]])  # below Lite's 24 px
        >>> fit = fit_anchors(tiny, "tf_efficientdet_lite0", 256)
        >>> fit.before.share, fit.after.share, fit.after.settings.anchor_scale
        (0.0, 1.0, 2.0)
    """
    default = default_anchor_settings(model_name)
    before = anchor_match(boxes, model_name, img_size, default)
    if len(boxes) == 0:
        return AnchorFit(before, before)
    best = before
    for ratios in _ratio_sets(boxes, default):
        for scale in _SCALES:
            m = anchor_match(boxes, model_name, img_size, AnchorSettings(scale, ratios))
            if (m.share, m.best_iou.mean()) > (best.share, best.best_iou.mean()):
                best = m
    return AnchorFit(before, best if best.share >= before.share + MIN_GAIN else before)
