"""effdet's tensor conventions, in one place: records -> targets, detections -> predictions.

Everything upstream of the model speaks [`Record`][efficientdet_adapter.records.record.Record] (xyxy
pixels, class-map label ids); everything downstream speaks
[`Prediction`][efficientdet_adapter.records.predictions.Prediction]. This module is the only one that knows
how
effdet 0.4.1 wants its tensors:

* **Boxes in** (``target["bbox"]``): a list with one float32 ``[N, 4]`` tensor per image, in
  **yxyx** pixels of the image the model sees (the transformed image).
* **Classes in** (``target["cls"]``): a list with one float32 ``[N]`` tensor per image of
  **1-based** class ids. With a [`ClassMap`][efficientdet_adapter.records.class_map.ClassMap] that has a
  background (the default), the class-map id *is* effdet's class id: foreground ids are
  ``1..len(class_map) - 1``. Id 0 (the background) is refused: effdet's anchor labeler would
  still match anchors to such a box and count them as positives.
* **Images with no boxes** (negatives) are encoded as an empty ``[0, 4]`` box tensor and an empty
  ``[0]`` class tensor. effdet's labeler then marks every anchor as background (class target
  ``-1``), counts 0 positives and produces all-zero box targets, so a negative adds only a class
  loss that pushes every anchor towards background. IceVision's dummy ``[0, 0, 0, 0]`` box of
  class 0 is *not* a negative for effdet: it matches an anchor, adds 1 to ``num_positives`` and
  trains the box head towards an empty box.
* **Image info** (eval-mode bench and `effdet.DetBenchPredict`): ``img_size`` a float32
  ``[B, 2]`` tensor of **(width, height)** in pixels, and ``img_scale`` a float32 ``[B]`` tensor;
  effdet clips detections to ``img_size / img_scale`` and multiplies them by ``img_scale``. Our
  batches use the transformed image's size and a scale of 1, so detections come back in the
  pixels of the transformed image, comparable with the transformed records.
* **Precomputed anchor labels** (optional, computed in the loader workers):
  ``label_num_positives`` ``[B]``, and per pyramid level ``l`` (0-based) ``label_cls_<l>``
  (int64 ``[B, H_l, W_l, A]``, ``-1`` for background) and ``label_bbox_<l>``
  (float32 ``[B, H_l, W_l, 4 A]``); exactly what the bench's labeler computes.
* **Detections out**: a ``[B, K, 6]`` tensor, each row ``x1, y1, x2, y2, score, cls`` with **xyxy**
  boxes and 1-based ``cls``; images with fewer than K detections are padded with all-zero rows.

Each rule is one small function here (`xyxy_to_yxyx`, `yxyx_to_xyxy`,
`num_foreground`, `num_classes_with_background`, `label_ids_from_class_index`,
`img_size_wh`, `xyxy_limits`); the model, the loaders, the export and the checkpoints
call them instead of writing the swap, the shift or the size order again.

Example:
    >>> from efficientdet_adapter import BBox, Record
    >>> r = Record(0, None, 64, 48, labels=["cat"], label_ids=[1],
    ...            bboxes=[BBox.from_xyxy(1, 2, 30, 40)])
    >>> box, cls = record_targets(r)
    >>> box.tolist(), cls.tolist()
    ([[2.0, 1.0, 40.0, 30.0]], [1.0])
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from efficientdet_adapter.records.class_map import ClassMap
from efficientdet_adapter.base.errors import ArgumentError, BatchError
from efficientdet_adapter.records.predictions import Prediction
from efficientdet_adapter.records.record import Record

__all__ = [
    "xyxy_to_yxyx",
    "yxyx_to_xyxy",
    "num_foreground",
    "num_classes_with_background",
    "label_ids_from_class_index",
    "img_size_wh",
    "xyxy_limits",
    "record_targets",
    "records_targets",
    "img_info",
    "anchor_label_targets",
    "predictions_from_detections",
]


# -- the conventions, one small function each -------------------------------------------------
def xyxy_to_yxyx(boxes):
    """``[..., 4]`` xyxy boxes (a NumPy array or a tensor) as effdet's yxyx, in a new array.

    Example:
        >>> xyxy_to_yxyx(np.array([[1, 2, 3, 4]])).tolist()
        [[2, 1, 4, 3]]
    """
    return boxes[..., [1, 0, 3, 2]]


def yxyx_to_xyxy(boxes):
    """effdet's ``[..., 4]`` yxyx boxes as xyxy (the same swap: it is its own inverse).

    Example:
        >>> yxyx_to_xyxy(torch.tensor([[2., 1., 4., 3.]])).tolist()
        [[1.0, 2.0, 3.0, 4.0]]
    """
    return boxes[..., [1, 0, 3, 2]]


def num_foreground(num_classes: int) -> int:
    """effdet's ``num_classes`` (foreground only) for ``num_classes`` counting the background.

    Example:
        >>> num_foreground(3)  # background, cat, dog
        2
    """
    return int(num_classes) - 1


def num_classes_with_background(num_fg: int) -> int:
    """The class-map size (background included) of an effdet net with ``num_fg`` classes.

    Example:
        >>> num_classes_with_background(2)
        3
    """
    return int(num_fg) + 1


def label_ids_from_class_index(index):
    """effdet's 0-based class-output index (an int, array or tensor) -> the 1-based label id.

    Example:
        >>> label_ids_from_class_index(torch.tensor([0, 4])).tolist()
        [1, 5]
    """
    return index + 1


def img_size_wh(height, width) -> tuple:
    """effdet's ``img_size`` order, **(width, height)**, from a height and a width.

    Example:
        >>> img_size_wh(height=48, width=64)
        (64, 48)
    """
    return (width, height)


def xyxy_limits(height, width) -> tuple:
    """The upper bounds of an xyxy box in an image of ``height x width``: ``(w, h, w, h)``.

    Example:
        >>> xyxy_limits(height=48, width=64)
        (64, 48, 64, 48)
    """
    return (width, height, width, height)


def _where(record: Record) -> str:
    return str(record.filepath) if record.filepath is not None else f"record {record.record_id!r}"


def record_targets(record: Record) -> tuple[torch.Tensor, torch.Tensor]:
    """One record's effdet targets: ``(boxes [N, 4] yxyx float32, classes [N] float32 1-based)``.

    A record with no boxes gives ``([0, 4], [0])`` tensors (a negative image).

    Raises:
        BatchError: if the record's ``label_ids`` and ``bboxes`` differ in length, or a label id
            is below 1 (id 0 is the background; it cannot label a box).
    """
    n = len(record.bboxes)
    if len(record.label_ids) != n:
        raise BatchError(
            f"{_where(record)}: {n} boxes but {len(record.label_ids)} label ids; every box needs "
            "one label id (were labels added without resolving them through the class map?)"
        )
    ids = np.asarray(record.label_ids, dtype=np.int64).reshape(n)
    bad = ids[ids < 1]
    if bad.size:
        names = "" if record.class_map is None else f" ({record.class_map.get_classes()})"
        raise BatchError(
            f"{_where(record)}: label id {int(bad[0])} on a box; id 0 is the background class "
            f"and effdet's ids start at 1{names}. Remove boxes of the background class (an image "
            "without boxes is a valid negative) or give them a foreground class"
        )
    if record.class_map is not None and ids.size and ids.max() >= len(record.class_map):
        raise BatchError(
            f"{_where(record)}: label id {int(ids.max())} is not in the record's class map "
            f"(ids 0..{len(record.class_map) - 1}: {record.class_map.get_classes()})"
        )
    if n == 0:
        return torch.zeros((0, 4), dtype=torch.float32), torch.zeros((0,), dtype=torch.float32)
    xyxy = np.asarray([b.xyxy for b in record.bboxes], dtype=np.float32)
    yxyx = xyxy_to_yxyx(xyxy)
    return torch.from_numpy(np.ascontiguousarray(yxyx)), torch.from_numpy(ids.astype(np.float32))


def records_targets(records: Sequence[Record]) -> dict[str, list[torch.Tensor]]:
    """``{"bbox": [...], "cls": [...]}``: `record_targets` for each record of a batch."""
    boxes, classes = [], []
    for record in records:
        box, cls = record_targets(record)
        boxes.append(box)
        classes.append(cls)
    return {"bbox": boxes, "cls": classes}


def img_info(
    records: Sequence[Record], img_scale: Sequence[float] | np.ndarray | None = None
) -> dict[str, torch.Tensor]:
    """``{"img_size": [B, 2] (W, H) float32, "img_scale": [B] float32}`` for effdet's eval bench.

    Args:
        records: the records of the batch; their ``width, height`` are the sizes of the images
            the model sees.
        img_scale: one factor per image from model pixels to the pixels the detections should
            be in (default: 1 for every image).
    """
    size = torch.tensor([img_size_wh(r.height, r.width) for r in records], dtype=torch.float32)
    scale = (
        torch.ones(len(records), dtype=torch.float32)
        if img_scale is None
        else torch.as_tensor(np.asarray(img_scale, dtype=np.float32).reshape(len(records)))
    )
    return {"img_size": size.reshape(len(records), 2), "img_scale": scale}


def anchor_label_targets(
    anchor_labeler, boxes: list[torch.Tensor], classes: list[torch.Tensor]
) -> dict[str, torch.Tensor]:
    """effdet's precomputed anchor labels for a batch (keys ``label_num_positives``,
    ``label_cls_<l>``, ``label_bbox_<l>``), from an ``effdet.anchors.AnchorLabeler``.

    This is the same call the training bench makes in its forward, so a model that uses these
    labels computes the same loss.
    """
    cls_targets, box_targets, num_positives = anchor_labeler.batch_label_anchors(boxes, classes)
    labels = {"label_num_positives": num_positives}
    for level, (cls_t, box_t) in enumerate(zip(cls_targets, box_targets)):
        labels[f"label_cls_{level}"] = cls_t
        labels[f"label_bbox_{level}"] = box_t
    return labels


def _per_image(values, n: int, what: str) -> np.ndarray:
    arr = np.asarray(values.detach().cpu() if torch.is_tensor(values) else values, np.float64)
    if arr.ndim == 0:
        arr = np.full(n, float(arr))
    if arr.shape != (n,):
        raise ArgumentError(f"{what} must hold one value per image ({n}); got shape {arr.shape}")
    return arr


def predictions_from_detections(
    detections: torch.Tensor | np.ndarray,
    records: Sequence[Record],
    *,
    detection_threshold: float = 0.0,
    min_score: float = 0.0,
    img_scale: Sequence[float] | np.ndarray | torch.Tensor | float | None = None,
    class_map: ClassMap | None = None,
    ground_truth: bool = True,
    keep_images: bool = False,
) -> list[Prediction]:
    """Turn effdet's ``[B, K, 6]`` detections into one
    [`Prediction`][efficientdet_adapter.records.predictions.Prediction] per record.

    Zero-padded rows (class 0 or score 0) are dropped, and so are rows scoring below
    ``min_score``; every other row is kept, and ``detection_threshold`` only sets the
    prediction's thresholded views (see
    [`Prediction.with_threshold`][efficientdet_adapter.records.predictions.Prediction.with_threshold]).

    Args:
        detections: ``[B, K, 6]`` rows of ``x1, y1, x2, y2, score, cls`` (1-based ``cls``).
        records: the B records the detections belong to, in batch order.
        detection_threshold: stored on each prediction.
        min_score: rows scoring below it are not stored at all.
        img_scale: per-image factors (or one for all) that map the boxes to the pixels of the
            records' images; boxes are then clipped to each record's ``width x height``.
            ``None`` keeps the boxes as they are.
        class_map: names for the label ids (default: each record's ``class_map``).
        ground_truth: attach each record as the prediction's ``ground_truth`` (for metrics);
            ``False`` for inference records that carry no annotations.
        keep_images: also attach each record's ``img``.

    Example:
        >>> dets = torch.tensor([[[1., 2., 3., 4., .9, 2.], [0., 0., 0., 0., 0., 0.]]])
        >>> [p] = predictions_from_detections(dets, [Record(0, None, 8, 8)])
        >>> p.label_ids.tolist(), [round(s, 3) for s in p.scores.tolist()]
        ([2], [0.9])
    """
    dets = detections.detach().float().cpu().numpy() if torch.is_tensor(detections) else (
        np.asarray(detections, dtype=np.float32)
    )
    if dets.ndim != 3 or dets.shape[-1] != 6 or dets.shape[0] != len(records):
        raise ArgumentError(
            f"detections must be [B, K, 6] with B = {len(records)} records; got {dets.shape}"
        )
    scales = None if img_scale is None else _per_image(img_scale, len(records), "img_scale")
    preds = []
    for i, record in enumerate(records):
        rows = dets[i]
        keep = (rows[:, 5] >= 1) & (rows[:, 4] > 0) & (rows[:, 4] >= min_score)
        rows = rows[keep]
        boxes = rows[:, :4]
        if scales is not None:
            boxes = boxes * np.float32(scales[i])
            if record.width > 0 and record.height > 0:
                boxes = np.clip(boxes, 0, list(xyxy_limits(record.height, record.width)))
        preds.append(
            Prediction(
                boxes=boxes,
                scores=rows[:, 4],
                label_ids=np.rint(rows[:, 5]).astype(np.int64),
                detection_threshold=float(detection_threshold),
                class_map=class_map if class_map is not None else record.class_map,
                ground_truth=record if ground_truth else None,
                record_id=record.record_id,
                filepath=record.filepath,
                width=record.width,
                height=record.height,
                img=record.img if keep_images else None,
            )
        )
    return preds
