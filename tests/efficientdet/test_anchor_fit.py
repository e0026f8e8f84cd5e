"""Best possible recall against effdet's anchors, the sizes and anchors fitted to boxes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from efficientdet_adapter import BBox, Record
from efficientdet_adapter.model.anchor_fit import (
    MAX_AUTO_SIZE, MIN_AUTO_SIZE, AnchorSettings, anchor_match, choose_img_size,
    default_anchor_settings, fit_anchors, input_boxes, size_cap)

LITE0 = "tf_efficientdet_lite0"
A = 24 * 2 ** (1 / 3)  # Lite0's second P3 anchor side (octave 1 of 3)
REAL = Path(__file__).resolve().parents[3] / "shared" / "data" / "real-exports"


def record(width, height, boxes):
    return Record(record_id=0, filepath=None, width=width, height=height,
                  labels=["a"] * len(boxes), label_ids=[1] * len(boxes),
                  bboxes=[BBox.from_xyxy(*b) for b in boxes])


@pytest.mark.parametrize("box, iou, level", [
    ([0, 0, 24, 24], 1.0, 3),              # Lite0's smallest anchor, on a P3 centre (12, 12)
    ([0, 0, 48, 48], 1.0, 4),              # a P4 anchor (side 48) centred at (24, 24)
    # 4 px off both ways: the octave-1 anchor (side A) beats the 24 px one (IoU 400 / 752)
    ([4, 4, 28, 28], (8 + A / 2) ** 2 / (A ** 2 + 576 - (8 + A / 2) ** 2), 3),
    # 10x10 inside every P3 anchor; the (1.4, 0.7) ones are the smallest (0.98 x 24**2)
    ([100, 100, 110, 110], 100 / (33.6 * 16.8), 3),
    # inside the (1.4, 0.7) anchor of 33.6 x 16.8 centred at (12, 12)
    ([-2.8, 4.6, 26.8, 19.4], 29.6 * 14.8 / (33.6 * 16.8), 3),
])
def test_best_iou_of_hand_made_boxes(box, iou, level):
    m = anchor_match(np.array([box], float), LITE0, 256)
    assert m.best_iou[0] == pytest.approx(iou, abs=1e-5)
    assert m.best_level[0] == level
    assert m.share == (1.0 if iou >= 0.5 else 0.0)


def test_nearest_anchor_search_equals_box_iou_over_every_anchor():
    rng = np.random.default_rng(0)
    xy = rng.uniform(-20, 380, (300, 2))
    wh = np.exp(rng.uniform(np.log(2), np.log(400), (300, 2)))
    boxes = np.concatenate([xy, xy + wh], 1)
    for settings in (None, AnchorSettings(1.5, ((1.0, 1.0), (2.0, 0.5), (0.5, 2.0)))):
        fast = anchor_match(boxes, LITE0, 384, settings)
        slow = anchor_match(boxes, LITE0, 384, settings, exhaustive=True)
        np.testing.assert_allclose(fast.best_iou, slow.best_iou, atol=1e-6)
        assert fast.matched == slow.matched and 0 < fast.matched < len(boxes)


def test_input_boxes_follow_the_resize_and_centred_padding():
    # 512x256 shown at 256: half size, 64 px of padding above and below
    boxes = input_boxes([record(512, 256, [[0, 0, 48, 48], [100, 50, 300, 250]])], 256)
    np.testing.assert_allclose(boxes, [[0, 64, 24, 88], [50, 89, 150, 189]])
    m = anchor_match(boxes, LITE0, 256)
    assert m.best_iou[0] == pytest.approx(1.0)  # centre (12, 76): a P3 anchor centre


def test_size_cap_rule():
    assert size_cap([record(300, 251, [])]) == 384  # 300 rounded up to a multiple of 128
    assert size_cap([record(100, 80, [])]) == MIN_AUTO_SIZE  # never below the floor
    assert size_cap([record(300, 251, []), record(720, 720, [])]) == 768
    assert size_cap([record(4000, 3000, [])]) == MAX_AUTO_SIZE


def test_choose_img_size_picks_the_smallest_size_reaching_95_percent():
    # 16x16 boxes in 1024 px images: 4 px at 256 (no match), 8 at 512, 12 at 768 (IoU 0.25),
    # 16 at 1024 (IoU 0.44 with the 24 px anchor): never 95%, so the best share wins
    small = [record(1024, 1024, [[512, 512, 528, 528]])]
    size, m = choose_img_size(small, LITE0)
    assert m.share < 0.95 and size == max(range(256, 1025, 128),
                                          key=lambda s: anchor_match(input_boxes(small, s),
                                                                     LITE0, s).share)
    # 40x40 boxes in 1024 px images: 10 px at 256 ... 20 px (IoU >= 0.5 near a centre) at 512
    boxes = [[x, y, x + 40, y + 40] for x in range(0, 900, 97) for y in range(0, 900, 131)]
    medium = [record(1024, 1024, boxes)]
    size, m = choose_img_size(medium, LITE0)
    assert m.share >= 0.95
    smaller = anchor_match(input_boxes(medium, size - 128), LITE0, size - 128)
    assert size == MIN_AUTO_SIZE or smaller.share < 0.95


def test_fit_raises_the_share_of_tiny_and_of_wide_boxes():
    rng = np.random.default_rng(1)
    xy = rng.uniform(0, 200, (200, 2))
    tiny = np.concatenate([xy, xy + rng.uniform(10, 14, (200, 2))], 1)
    fit = fit_anchors(tiny, LITE0, 256)
    # 10-14 px boxes anywhere: none on Lite0's 24 px anchors, most on fitted 8-16 px ones (the
    # rest fall between P3 centres, 8 px apart, which no anchor size fixes)
    assert fit.before.share == 0.0 and fit.after.share > 0.6 and fit.changed
    assert fit.after.settings.anchor_scale < 3.0
    assert "best possible recall" in fit.summary() and "->" in fit.summary()
    wide_wh = np.stack([rng.uniform(80, 120, 200), rng.uniform(15, 25, 200)], 1)
    wide = np.concatenate([xy, xy + wide_wh], 1)
    fit = fit_anchors(wide, LITE0, 256)
    assert fit.after.share > fit.before.share + 0.1
    assert max(x / y for x, y in fit.after.settings.aspect_ratios) > 2.5


def test_fit_keeps_effdets_anchors_when_they_already_match():
    boxes = np.array([[0, 0, 24, 24], [0, 0, 48, 48], [64, 64, 160, 160]], float)
    fit = fit_anchors(boxes, LITE0, 256)
    assert not fit.changed and fit.after.settings == default_anchor_settings(LITE0)
    assert "kept" in fit.summary()


def test_settings_round_trip_through_effdet_kwargs():
    s = AnchorSettings(2.0, ((1.0, 1.0), (1.5, 0.667), (2.0, 0.5)))
    kwargs = s.effdet_kwargs()
    assert kwargs == {"anchor_scale": 2.0,
                      "aspect_ratios": [[1.0, 1.0], [1.5, 0.667], [2.0, 0.5]]}
    assert AnchorSettings.from_effdet_kwargs(LITE0, kwargs) == s
    assert AnchorSettings.from_effdet_kwargs(LITE0, {}) == default_anchor_settings(LITE0)
    from efficientdet_adapter.model.model import model as build

    net = build(model_name=LITE0, num_classes=2, img_size=256, pretrained_backbone=False,
                **kwargs)
    import torch

    # the model's own anchors (effdet's generator, yxyx) hold the 16 px square at (12, 12)
    target = torch.tensor([4.0, 4.0, 20.0, 20.0])
    assert ((net.anchors.boxes - target).abs().sum(1) < 1e-4).any()
    assert net.config.effdet_kwargs == kwargs
    m = anchor_match(np.array([[4, 4, 20, 20]], float), LITE0, 256, s)
    assert m.best_iou[0] == pytest.approx(1.0)


def test_summary_says_why_boxes_are_unmatched():
    # a 10x10 box (below 24 / sqrt 2 = 17 px), a 60x10 box (a 6:1 shape no anchor has), a match
    m = anchor_match(np.array([[0, 0, 10, 10], [0, 0, 60, 10], [0, 0, 24, 24]], float), LITE0,
                     256)
    lines = m.summary()
    assert lines[0].startswith("best possible recall at --img-size 256: 33.3% (1 of 3 train "
                               "boxes have an anchor with IoU >= 0.5; anchor_scale 3,")
    assert lines[1] == ("matched boxes by the level of their best anchor: P3 (24-38 px): 1, "
                        "P4 (48-76 px): 0, P5 (96-152 px): 0, P6 (192-305 px): 0, "
                        "P7 (384-610 px): 0")
    assert lines[2] == ("no anchor reaches IoU 0.5 for 2 boxes: 1 smaller than 17 px (sqrt(w*h);"
                        " a larger --img-size or smaller anchors), 0 larger than 862 px, 1 of a "
                        "shape or place no anchor fits (other aspect ratios)")
