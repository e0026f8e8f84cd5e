"""Tiled prediction: small objects in large images, found tile by tile and merged in original pixels.

A model sees its whole input at ``img_size``: a 2000 px photo shown at 384 px shrinks a 20 px
object to 4 px, far below the smallest anchor (see
[`anchor_sizes`][efficientdet_adapter.model.anchor_sizes]).
[`predict_tiled`][efficientdet_adapter.inference.tiling.predict_tiled] cuts each image
into overlapping ``tile`` crops, predicts every crop at the model's size, shifts the boxes by the
crop's origin into the original image, and merges them:

1. A box that touches a tile edge inside the image (not the image border) and is narrower than
   the overlap along that axis is a cut piece of an object that a neighbouring tile sees whole
   (an object no larger than the overlap always lies inside one tile): it is dropped.
2. Class-aware NMS (``torchvision.ops.batched_nms``) in original pixels removes the duplicates
   of objects seen in two tiles.

Example:
    >>> preds = efficientdet.predict(model, Dataset.from_images(["big.jpg"]),
    ...                              tile=(512, 512), overlap=0.25)     # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from efficientdet_adapter.base.errors import ArgumentError, BatchError
from efficientdet_adapter.records.predictions import Prediction
from efficientdet_adapter.records.record import Record

__all__ = ["Tile", "tile_grid", "overlap_pixels", "merge_tiles", "predict_tiled",
           "check_tile_count", "MAX_TILES"]

#: A box edge within this many original pixels of an inner tile edge touches it.
EDGE_TOLERANCE = 1.0
#: The most tiles one image is cut into unless told otherwise: each is a full prediction, so
#: 4096 tiles take about as long as 4096 images (16 px tiles cut a 1024 px image into 7,225).
MAX_TILES = 4096


@dataclass(frozen=True)
class Tile:
    """One crop of an image: ``[x0, x1) x [y0, y1)`` in original pixels."""

    x0: int
    y0: int
    x1: int
    y1: int


def _starts(length: int, tile: int, step: int) -> list[int]:
    if length <= tile:
        return [0]
    starts = list(range(0, length - tile, step))
    return starts + [length - tile]  # the last tile ends on the border: every tile is full size


def overlap_pixels(tile: Sequence[int], overlap: float | int) -> tuple[int, int]:
    """``(overlap_h, overlap_w)`` in pixels: a fraction of the tile (``0.25``) or pixels (``64``).

    Example:
        >>> overlap_pixels((256, 512), 0.25), overlap_pixels((256, 512), 40)
        ((64, 128), (40, 40))

    Raises:
        BatchError: the overlap is negative or more than half a tile.
    """
    th, tw = (int(tile[0]), int(tile[1]))
    if th < 1 or tw < 1:
        raise BatchError(f"tile={tuple(tile)}: a tile needs a positive height and width")
    if isinstance(overlap, float) and 0 <= overlap < 1:
        oh, ow = round(th * overlap), round(tw * overlap)
    else:
        oh = ow = int(overlap)
    if oh < 0 or ow < 0 or 2 * oh > th or 2 * ow > tw:
        raise BatchError(
            f"overlap={overlap!r} for tile={(th, tw)}: the overlap must be between 0 and half a "
            "tile (a fraction such as 0.25, or pixels such as 64)")
    return oh, ow


def tile_grid(height: int, width: int, tile: Sequence[int], overlap: float | int = 0.25
              ) -> list[Tile]:
    """The tiles that cover a ``height`` x ``width`` image, row by row.

    Neighbours overlap by ``overlap`` (at least; the last row and column are moved back to end
    on the border, so every tile has the full size unless the image is smaller than a tile).

    Example:
        >>> [(t.x0, t.x1) for t in tile_grid(100, 250, (100, 100), overlap=20)]
        [(0, 100), (80, 180), (150, 250)]
    """
    th, tw = int(tile[0]), int(tile[1])
    oh, ow = overlap_pixels((th, tw), overlap)
    return [
        Tile(x0, y0, min(x0 + tw, width), min(y0 + th, height))
        for y0 in _starts(height, th, th - oh)
        for x0 in _starts(width, tw, tw - ow)
    ]


def check_tile_count(height: int, width: int, tile: Sequence[int], overlap: float | int = 0.25,
                     *, max_tiles: int = MAX_TILES, name: str = "an image",
                     option: str = "max_tiles") -> int:
    """The number of tiles of a ``height`` x ``width`` image, refused above ``max_tiles`` with
    the tile size that would fit.

    Raises:
        ArgumentError: more than ``max_tiles`` tiles (the message names ``name``, the count,
            a tile size within the limit and ``option``).

    Example:
        >>> check_tile_count(768, 1024, (512, 512))
        6
    """
    count = len(tile_grid(height, width, tile, overlap))
    if count > max_tiles:
        th, tw = int(tile[0]), int(tile[1])
        while len(tile_grid(height, width, (th, tw), overlap)) > max_tiles:
            th, tw = th * 2, tw * 2
        fits = len(tile_grid(height, width, (th, tw), overlap))
        raise ArgumentError(
            f"{name} ({width}x{height}) in {tile[0]}x{tile[1]} tiles is {count} tiles, more than "
            f"{option} {max_tiles} (each tile is a whole prediction); use larger tiles "
            f"({th}x{tw} gives {fits}) or raise {option}")
    return count


def _cut_by_inner_edge(boxes: np.ndarray, t: Tile, width: int, height: int,
                       overlap: tuple[int, int]) -> np.ndarray:
    """Boxes (original pixels) that touch an inner edge of ``t`` and are narrower than the overlap."""
    oh, ow = overlap
    x1, y1, x2, y2 = boxes.T
    tol = EDGE_TOLERANCE
    narrow_x, narrow_y = (x2 - x1) < ow, (y2 - y1) < oh
    cut = np.zeros(len(boxes), dtype=bool)
    if t.x0 > 0:
        cut |= narrow_x & (x1 <= t.x0 + tol)
    if t.x1 < width:
        cut |= narrow_x & (x2 >= t.x1 - tol)
    if t.y0 > 0:
        cut |= narrow_y & (y1 <= t.y0 + tol)
    if t.y1 < height:
        cut |= narrow_y & (y2 >= t.y1 - tol)
    return cut


def merge_tiles(
    tiles: Sequence[Tile],
    detections: Sequence[tuple[np.ndarray, np.ndarray, np.ndarray]],
    width: int,
    height: int,
    overlap: tuple[int, int],
    iou_threshold: float = 0.5,
    max_det: int = 300,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Merge per-tile detections into one image's ``(boxes, scores, label_ids)``.

    Args:
        tiles: where each tile lies in the image.
        detections: per tile, ``(boxes [N, 4] xyxy in tile pixels, scores [N], label_ids [N])``.
        width, height: the image's size.
        overlap: ``(overlap_h, overlap_w)`` in pixels
            ([`overlap_pixels`][efficientdet_adapter.inference.tiling.overlap_pixels]).
        iou_threshold: NMS threshold between boxes of one class, in original pixels.
        max_det: the most detections kept, best first.

    Example:
        >>> tiles = tile_grid(100, 180, (100, 100), overlap=20)   # x: [0, 100) and [80, 180)
        >>> one = (np.array([[85., 10, 95, 20]]), np.array([.9]), np.array([1]))
        >>> other = (np.array([[5., 10, 15, 20]]), np.array([.8]), np.array([1]))
        >>> merge_tiles(tiles, [one, other], 180, 100, (20, 20))[0]   # the same object, once
        array([[85., 10., 95., 20.]], dtype=float32)
    """
    from torchvision.ops import batched_nms  # noqa: PLC0415

    parts_b, parts_s, parts_l = [], [], []
    for t, (boxes, scores, labels) in zip(tiles, detections, strict=True):
        boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4) + [t.x0, t.y0, t.x0, t.y0]
        keep = ~_cut_by_inner_edge(boxes, t, width, height, overlap)
        parts_b.append(boxes[keep])
        parts_s.append(np.asarray(scores, dtype=np.float64).reshape(-1)[keep])
        parts_l.append(np.asarray(labels, dtype=np.int64).reshape(-1)[keep])
    boxes = np.concatenate(parts_b) if parts_b else np.zeros((0, 4))
    scores = np.concatenate(parts_s) if parts_s else np.zeros(0)
    labels = np.concatenate(parts_l) if parts_l else np.zeros(0, dtype=np.int64)
    keep = batched_nms(torch.from_numpy(boxes), torch.from_numpy(scores),
                       torch.from_numpy(labels), iou_threshold).numpy()[:max_det]
    return boxes[keep].astype(np.float32), scores[keep].astype(np.float32), labels[keep]


def predict_tiled(
    dataset: Any,
    tile: Sequence[int],
    overlap: float | int = 0.25,
    detection_threshold: float = 0.5,
    *,
    predict_crops: Callable[[list[Record]], list[Prediction]],
    iou_threshold: float = 0.5,
    max_det: int = 300,
    keep_images: bool = False,
    max_tiles: int = MAX_TILES,
) -> list[Prediction]:
    """Predict each image of ``dataset`` tile by tile; what ``efficientdet.predict(model, dataset,
    tile=...)`` runs (call that: it supplies ``predict_crops``).

    Boxes come back in the original images' pixels (see the module's docstring for the merge).
    This module runs no model itself: ``predict_crops`` does, so that tiling sits beside
    prediction without importing it.

    Args:
        dataset: a [`Dataset`][efficientdet_adapter.records.dataset.Dataset] (its records are what count).
        tile: ``(height, width)`` of a tile in original pixels.
        overlap: between neighbouring tiles: a fraction of the tile (``0.25``) or pixels.
        detection_threshold: sets the predictions' thresholded views.
        predict_crops: ``crop records -> one Prediction per crop, in order``, every detection
            kept, boxes in the crop's own pixels. ``predict`` gives one that resizes and pads each
            tile to the model's ``img_size`` like a whole image (its inference transform), so a
            tile of the model's own size shows objects at their original size.
        iou_threshold, max_det: of the merge
            ([`merge_tiles`][efficientdet_adapter.inference.tiling.merge_tiles]).
        keep_images: attach each original image as ``pred.img``.
        max_tiles: refuse an image that makes more tiles
            ([`check_tile_count`][efficientdet_adapter.inference.tiling.check_tile_count]).

    Example:
        >>> preds = efficientdet.predict(model, Dataset.from_images(["big.jpg"]),
        ...                              tile=(384, 384))      # doctest: +SKIP
    """
    records = getattr(dataset, "records", None)
    if records is None:
        raise BatchError("tiled prediction needs a Dataset (efficientdet_adapter.Dataset) whose "
                         "records name the images")
    tile = (int(tile[0]), int(tile[1]))
    overlap_px = overlap_pixels(tile, overlap)
    gt = any(r.bboxes for r in records)
    preds = []
    for record in records:
        original = record.copy()
        img = original.load_image()
        height, width = img.shape[:2]
        check_tile_count(height, width, tile, overlap, max_tiles=max_tiles,
                         name=str(record.filepath or f"image {record.record_id}"))
        tiles = tile_grid(height, width, tile, overlap)
        crops = [
            Record(record_id=i, filepath=None, width=t.x1 - t.x0, height=t.y1 - t.y0,
                   img=np.ascontiguousarray(img[t.y0:t.y1, t.x0:t.x1]))
            for i, t in enumerate(tiles)
        ]
        tile_preds = predict_crops(crops)
        if len(tile_preds) != len(tiles):
            raise BatchError(f"predict_crops returned {len(tile_preds)} predictions for "
                             f"{len(tiles)} tiles: it must return one per crop, in order")
        boxes, scores, labels = merge_tiles(
            tiles, [(p.boxes, p.scores, p.label_ids) for p in tile_preds], width, height,
            overlap_px, iou_threshold=iou_threshold, max_det=max_det)
        preds.append(Prediction(
            boxes=boxes, scores=scores, label_ids=labels, detection_threshold=detection_threshold,
            class_map=record.class_map, ground_truth=original if gt else None,
            record_id=record.record_id, filepath=record.filepath, width=width, height=height,
            img=img if keep_images else None,
        ))
        if not keep_images and record.filepath is not None:
            original.img = None
    return preds
