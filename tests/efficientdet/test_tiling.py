"""Tiled prediction: the tile grid, the merge in original pixels, a known layout end to end."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from scipy import ndimage

from efficientdet_adapter.records.dataset import Dataset
from efficientdet_adapter.model.anchor_sizes import anchor_sizes, smallest_anchor
from efficientdet_adapter.model.model import EfficientDetModel
from efficientdet_adapter.model.model import model as build_model
from efficientdet_adapter.inference.prediction import inference_tfm, predict
from efficientdet_adapter.inference.tiling import (
    Tile,
    merge_tiles,
    overlap_pixels,
    tile_grid,
)
from efficientdet_adapter.base.errors import BatchError

METIN = Path(__file__).resolve().parents[3] / "shared" / "data" / "real-exports" / "metin2_game_tfcsv"


class BlobDetector(EfficientDetModel):
    """A stand-in model: every bright blob of its input is a detection (red: class 1, green: 2).

    Its detections are exactly the blobs each tile shows, so the merged boxes are known. (An
    EfficientDetModel only by type, so that prediction accepts it; no network is built.)
    """

    def __init__(self, size: int = 128):
        torch.nn.Module.__init__(self)
        self.config = SimpleNamespace(img_size=(size, size), mean=(0.0, 0.0, 0.0),
                                      std=(1.0, 1.0, 1.0))
        self.calls = 0

    def detect(self, images, img_size, img_scale):
        self.calls += images.shape[0]
        out = torch.zeros(images.shape[0], 20, 6)
        for b, img in enumerate(images):
            k = 0
            for cls, channel in ((1, 0), (2, 1)):
                labels, _ = ndimage.label(img[channel].numpy() > 0.5)
                for sl in ndimage.find_objects(labels):
                    y, x = sl
                    out[b, k] = torch.tensor([x.start, y.start, x.stop, y.stop, 0.9, cls])
                    k += 1
        return out


# (x1, y1, x2, y2, class): small squares, several across tile borders (tiles of 128 px, 32 px
# overlap: x tiles start at 0, 96, 192, 288, 372; y tiles at 0, 96, 172)
LAYOUT = [
    (10, 10, 20, 20, 1),     # inside the first tile only
    (120, 40, 136, 52, 1),   # across x = 128 (first tile's right edge)
    (90, 90, 104, 106, 2),   # across the corner of four tiles
    (488, 280, 500, 300, 2),  # on the image's right and bottom border
    (200, 150, 206, 156, 1),  # 6 px
    (280, 10, 300, 30, 2),   # across x = 288 and x = 320
]


def _layout_image(height=300, width=500) -> np.ndarray:
    img = np.zeros((height, width, 3), np.uint8)
    for x1, y1, x2, y2, cls in LAYOUT:
        img[y1:y2, x1:x2, cls - 1] = 255
    return img


def _sorted(boxes, labels):
    return sorted((*map(float, b), int(c)) for b, c in zip(boxes, labels))


# -- the grid ------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "height, width, tile, overlap, xs, ys",
    [
        (300, 500, (128, 128), 32, [0, 96, 192, 288, 372], [0, 96, 172]),
        (100, 250, (100, 100), 0.2, [0, 80, 150], [0]),
        (60, 90, (128, 128), 0.25, [0], [0]),  # smaller than a tile: one (smaller) tile
        (128, 128, (128, 128), 0.25, [0], [0]),
    ],
)
def test_tile_grid(height, width, tile, overlap, xs, ys):
    tiles = tile_grid(height, width, tile, overlap)
    assert sorted({t.x0 for t in tiles}) == xs and sorted({t.y0 for t in tiles}) == ys
    assert len(tiles) == len(xs) * len(ys)
    assert max(t.x1 for t in tiles) == width and max(t.y1 for t in tiles) == height
    assert all(t.x1 - t.x0 == min(tile[1], width) for t in tiles)


@pytest.mark.parametrize("overlap", [-1, 65, 0.6])
def test_overlap_beyond_half_a_tile_is_refused(overlap):
    with pytest.raises(BatchError, match="between 0 and half a tile"):
        overlap_pixels((128, 128), overlap)


# -- the merge -----------------------------------------------------------------------------------
def test_merge_drops_cut_pieces_and_duplicates():
    tiles = [Tile(0, 0, 100, 100), Tile(80, 0, 180, 100)]
    first = (np.array([[90.0, 10, 100, 20], [10, 10, 20, 20]]), np.array([0.7, 0.6]),
             np.array([1, 1]))  # a piece cut at x = 100 and an object
    second = (np.array([[10.0, 10, 25, 20], [60, 50, 99, 90]]), np.array([0.8, 0.5]),
              np.array([1, 2]))  # the whole object (x 90..105) and a wide one at its edge
    boxes, scores, labels = merge_tiles(tiles, [first, second], 180, 100, (20, 20))
    assert _sorted(boxes, labels) == [(10, 10, 20, 20, 1), (90, 10, 105, 20, 1),
                                      (140, 50, 179, 90, 2)]
    assert scores.tolist() == pytest.approx([0.8, 0.6, 0.5])


def test_merge_nms_keeps_the_best_of_one_class_only():
    tiles = [Tile(0, 0, 100, 100)]
    dets = (np.array([[10.0, 10, 30, 30], [11, 11, 31, 31], [11, 11, 31, 31]]),
            np.array([0.5, 0.9, 0.4]), np.array([1, 1, 2]))
    boxes, scores, labels = merge_tiles(tiles, [dets], 100, 100, (0, 0))
    assert _sorted(boxes, labels) == [(11, 11, 31, 31, 1), (11, 11, 31, 31, 2)]


# -- end to end ------------------------------------------------------------------------------------
@pytest.mark.parametrize("tile, scale", [((128, 128), 1), ((256, 256), 2)])
def test_tiled_predict_finds_the_known_layout(tile, scale):
    """Each square once, in original pixels; at tile 256 the model sees every tile halved."""
    detector = BlobDetector(128)
    img = _layout_image()
    if scale == 2:  # keep every edge on an even pixel: halving is then exact
        img = np.kron(img[::2, ::2], np.ones((2, 2, 1), np.uint8))[:300, :500]
    ds = Dataset.from_images([img])
    (pred,) = predict(detector, ds, tile=tile, overlap=0.25, detection_threshold=0.5)
    expected = [(x1 // scale * scale, y1 // scale * scale, -(-x2 // scale) * scale,
                 -(-y2 // scale) * scale, c) for x1, y1, x2, y2, c in LAYOUT]
    if scale == 2:
        expected = [tuple(map(float, e[:4])) + (e[4],) for e in expected]
    assert _sorted(pred.boxes, pred.label_ids) == sorted(
        (*map(float, e[:4]), int(e[4])) for e in expected)
    assert (pred.width, pred.height) == (500, 300)
    assert detector.calls == len(tile_grid(300, 500, tile, 0.25))


def test_whole_image_prediction_misses_what_tiles_find():
    """The same stand-in on the whole image, shrunk to 128 px: the 6 px square falls to 1.5 px
    and neighbours merge, so the untiled boxes differ from the layout."""
    detector = BlobDetector(128)
    (pred,) = predict(detector, Dataset.from_images([_layout_image()], inference_tfm(detector)))
    assert _sorted(pred.boxes, pred.label_ids) != sorted(
        (*map(float, e[:4]), e[4]) for e in LAYOUT)


@pytest.mark.skipif(not METIN.is_dir(), reason=f"shared real exports not found at {METIN}")
def test_one_tile_over_a_real_image_equals_plain_predict():
    """A real 416 px screenshot, a real (untrained) Lite0 at 128 px: a single tile covering the
    image gives exactly the plain prediction."""
    image = sorted((METIN / "valid").glob("*.jpg"))[0]
    torch.manual_seed(0)
    m = build_model(model_name="tf_efficientdet_lite0", num_classes=2, img_size=128)
    ds = Dataset.from_images([image], inference_tfm(m))
    (plain,) = predict(m, ds, min_score=0.0)
    (tiled,) = predict(m, ds, tile=(416, 416), min_score=0.0)
    assert len(plain.boxes) > 0
    # effdet already ran NMS at 0.5 per class: the merge keeps every box it kept
    np.testing.assert_allclose(_sorted(tiled.boxes, tiled.label_ids),
                               _sorted(plain.boxes, plain.label_ids), atol=1e-3)
    (two_by_two,) = predict(m, ds, tile=(256, 256), overlap=0.25, min_score=0.0)
    assert two_by_two.boxes.min() >= 0 and two_by_two.boxes[:, 2].max() <= 416
    assert two_by_two.boxes[:, 3].max() <= 416


# -- anchors ------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "name, img_size, smallest, largest",
    [("tf_efficientdet_lite0", 384, 24.0, 609.56), ("tf_efficientdet_lite2", 256, 24.0, 609.56),
     ("efficientdet_d0", 512, 32.0, 812.75)],
)
def test_anchor_sizes_table(name, img_size, smallest, largest):
    sizes = anchor_sizes(name, img_size)
    assert sizes.smallest == smallest and sizes.levels[-1].sides[-1] == largest
    assert [lv.stride for lv in sizes.levels] == [8, 16, 32, 64, 128]
    assert sizes.smallest_matchable == pytest.approx(smallest / 2 ** 0.5)


def test_anchor_sizes_of_a_model_match_its_anchor_boxes():
    m = build_model(model_name="tf_efficientdet_lite0", num_classes=2, img_size=256)
    boxes = m.anchors.boxes  # yxyx
    side = ((boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])).sqrt()
    assert float(side.min()) == pytest.approx(anchor_sizes(m).smallest, abs=0.5)
    assert smallest_anchor(m, image_side=640) == pytest.approx(24 * 640 / 256)


@pytest.mark.parametrize("name", ["tiling", "anchor_sizes"])
def test_docstring_examples_run(name, capsys):
    import doctest
    import importlib

    module = importlib.import_module(f"efficientdet_adapter.efficientdet.{name}")
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0 and result.failed == 0, capsys.readouterr().out[-3000:]
