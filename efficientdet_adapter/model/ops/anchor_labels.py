"""Anchor labels for a whole batch in one vectorized pass, equal to effdet's ``AnchorLabeler``.

effdet 0.4.1 labels one image at a time (``AnchorLabeler.batch_label_anchors`` loops over the
batch, and each image builds its own IoU matrix, match and encoding). `label_anchors` does
the same arithmetic for every image at once, on the device the anchors live on, without a host
round trip: boxes are padded to the batch's largest count and one IoU tensor ``[B, Nmax, A]``
(anchors contiguous, as in effdet's ``[N, A]`` matrix) is matched with effdet's rules.

Tensor contract:

* **In**: ``anchors``, an ``effdet.anchors.Anchors`` (``boxes`` ``[A, 4]`` yxyx pixels, levels
  ``min_level..max_level``, ``feat_sizes``); ``boxes``, a list of ``B`` float ``[N_i, 4]`` yxyx
  pixel tensors; ``classes``, a list of ``B`` ``[N_i]`` tensors of 1-based class ids (float or
  int). Boxes whose class is ``<= -1`` are ignored, as effdet's ``filter_valid`` does. Inputs may
  live on any device; they are moved to the anchors' device.
* **Out**: ``(cls_targets, box_targets, num_positives)``, exactly what
  ``AnchorLabeler.batch_label_anchors`` returns: per level ``l``, ``cls_targets[l]`` int64
  ``[B, H_l, W_l, num_anchors]`` (0-based class, ``-1`` background), ``box_targets[l]``
  ``[B, H_l, W_l, 4 * num_anchors]`` (``ty, tx, th, tw`` of FasterRcnnBoxCoder, 0 where
  unmatched) and ``num_positives`` float ``[B]`` (matched anchors per image).

Matching rules (effdet's ``ArgMaxMatcher(0.5, 0.5, negatives_lower_than_unmatched=True,
force_match_for_each_row=True)``): each anchor takes the box of highest IoU (the first box on a
tie); it is matched when that IoU is ``>= match_threshold``, else background. Then every box
claims its best anchor (the first anchor on a tie, even when all its IoUs are 0) regardless of the
threshold; an anchor claimed by several boxes goes to the first of them.

Exactness: the IoU, thresholds, argmax tie-breaks and box encoding use the same elementwise
float operations as effdet, so the labels are bit-identical to effdet's (tested on the CPU).

Example:
    >>> from effdet.anchors import Anchors
    >>> anchors = Anchors(3, 7, 3, [(1.0, 1.0), (1.4, 0.7), (0.7, 1.4)], 4.0, (128, 128))
    >>> boxes = [torch.tensor([[10.0, 20.0, 60.0, 90.0]]), torch.zeros((0, 4))]
    >>> classes = [torch.tensor([2.0]), torch.zeros((0,))]
    >>> cls_t, box_t, num_pos = label_anchors(anchors, boxes, classes)
    >>> cls_t[0].shape, box_t[0].shape, num_pos.tolist()
    (torch.Size([2, 16, 16, 9]), torch.Size([2, 16, 16, 36]), [35.0, 0.0])
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import reduce

import torch
from torch import Tensor
from efficientdet_adapter.base.errors import BatchError

__all__ = ["label_anchors", "encode_boxes"]

#: The epsilon effdet's FasterRcnnBoxCoder adds to box and anchor sizes before dividing.
BOX_CODER_EPS = 1e-7


def _to_device(t: Tensor, device: torch.device, dtype: torch.dtype | None = None) -> Tensor:
    """``t`` (as ``dtype``) on ``device``. From the host to a GPU it goes through pinned memory:
    a copy from pageable memory may make the host wait for the GPU's stream; a pinned one is
    queued behind the work already there."""
    if dtype is not None:
        t = t.to(dtype)
    if t.device.type == "cpu" and device.type == "cuda":
        t = t.pin_memory()
    return t.to(device, non_blocking=True)


def _pad(
    boxes: Sequence[Tensor], classes: Sequence[Tensor], device: torch.device, dtype: torch.dtype
) -> tuple[Tensor, Tensor]:
    """``[B, Nmax, 4]`` boxes and ``[B, Nmax]`` classes; padding rows get class -1 (invalid)."""
    counts = [int(b.shape[0]) for b in boxes]
    batch, nmax = len(counts), max(max(counts, default=0), 1)  # one padding row if none
    cls_dtype = reduce(torch.promote_types, [c.dtype for c in classes], torch.bool)
    flat_boxes = _to_device(torch.cat([b.reshape(-1, 4) for b in boxes]), device, dtype)
    flat_cls = _to_device(torch.cat([c.reshape(-1) for c in classes]), device, cls_dtype)
    rows = _to_device(torch.cat([torch.arange(n) + i * nmax for i, n in enumerate(counts)]), device)
    padded_boxes = torch.zeros((batch * nmax, 4), dtype=dtype, device=device)
    padded_cls = torch.full((batch * nmax,), -1, dtype=cls_dtype, device=device)
    padded_boxes[rows] = flat_boxes
    padded_cls[rows] = flat_cls
    return padded_boxes.view(batch, nmax, 4), padded_cls.view(batch, nmax)


def _area(boxes: Tensor) -> Tensor:
    y0, x0, y1, x1 = boxes.unbind(-1)
    return (y1 - y0) * (x1 - x0)


def _iou(gt: Tensor, anchors: Tensor) -> Tensor:
    """IoU ``[B, N, A]`` of ``gt`` ``[B, N, 4]`` with ``anchors`` ``[A, 4]`` (both yxyx).

    Anchors run along the last (contiguous) dimension, as in effdet's ``[N, A]`` matrix: the
    elementwise work then vectorizes over thousands of anchors rather than a few boxes.
    """
    gy0, gx0, gy1, gx1 = (v.unsqueeze(2) for v in gt.unbind(-1))  # [B, N, 1]
    ay0, ax0, ay1, ax1 = anchors.unbind(-1)  # [A]
    inter = torch.minimum(gy1, ay1).sub_(torch.maximum(gy0, ay0)).clamp_(min=0)
    inter.mul_(torch.minimum(gx1, ax1).sub_(torch.maximum(gx0, ax0)).clamp_(min=0))
    union = (_area(gt).unsqueeze(2) + _area(anchors)).sub_(inter)
    iou = torch.div(inter, union, out=union)  # reuse the buffer: [B, N, A] can be large
    return iou.masked_fill_(inter == 0, 0.0)


def _match(iou: Tensor, valid: Tensor, match_threshold: float) -> Tensor:
    """effdet's ArgMaxMatcher on a batch: the box index per anchor ``[B, A]``, ``-1`` unmatched.

    Args:
        iou: ``[B, N, A]`` IoU of every (padded) box with every anchor; overwritten (invalid
            rows set to -1, in place, to spare a copy of the largest tensor).
        valid: ``[B, N]`` bool, False for padding and ignored boxes.
        match_threshold: the matched and unmatched threshold (effdet's labeler uses one value).
    """
    batch, nmax, num_anchors = iou.shape
    if nmax == 0:  # no image has a box: every anchor is background
        return torch.full((batch, num_anchors), -1, dtype=torch.long, device=iou.device)
    iou.masked_fill_(~valid.unsqueeze(2), -1.0)  # invalid boxes never win an anchor
    best_iou, matches = iou.max(dim=1)  # first box on a tie, like effdet's torch.max
    matches = matches.masked_fill(best_iou < match_threshold, -1)
    # Force match: each valid box claims its best anchor; the first box wins a shared anchor.
    best_anchor = iou.argmax(dim=2)  # [B, N], first anchor on a tie
    box_ids = torch.arange(nmax, device=iou.device).expand(batch, nmax)
    claim = torch.where(valid, box_ids, nmax)  # invalid boxes claim with a losing sentinel
    claimed = torch.full((batch, num_anchors), nmax, dtype=torch.long, device=iou.device)
    claimed.scatter_reduce_(1, best_anchor, claim, reduce="amin")
    return torch.where(claimed < nmax, claimed, matches)


def _centers_sizes(boxes: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """yxyx -> ``(ycenter, xcenter, height + eps, width + eps)`` as FasterRcnnBoxCoder has them."""
    y0, x0, y1, x1 = boxes.unbind(-1)
    h = y1 - y0
    w = x1 - x0
    return y0 + h / 2.0, x0 + w / 2.0, h + BOX_CODER_EPS, w + BOX_CODER_EPS


def encode_boxes(boxes: Tensor, anchors: Tensor) -> Tensor:
    """FasterRcnnBoxCoder's ``(ty, tx, th, tw)`` of yxyx ``boxes`` relative to ``anchors``
    (broadcast over leading dimensions), no scale factors."""
    yc, xc, h, w = _centers_sizes(boxes)
    yca, xca, ha, wa = _centers_sizes(anchors)
    ty = (yc - yca) / ha
    tx = (xc - xca) / wa
    th = torch.log(h / ha)
    tw = torch.log(w / wa)
    return torch.stack([ty, tx, th, tw], dim=-1)


def _split_levels(values: Tensor, anchors) -> list[Tensor]:
    """``[B, A, ...]`` -> per level ``[B, H_l, W_l, -1]`` (contiguous, as effdet stacks them)."""
    out, start = [], 0
    per_location = anchors.get_anchors_per_location()
    for level in range(anchors.min_level, anchors.max_level + 1):
        h, w = anchors.feat_sizes[level]
        steps = h * w * per_location
        out.append(values[:, start : start + steps].reshape(values.shape[0], h, w, -1).contiguous())
        start += steps
    return out


def label_anchors(
    anchors, boxes: Sequence[Tensor], classes: Sequence[Tensor], match_threshold: float = 0.5
) -> tuple[list[Tensor], list[Tensor], Tensor]:
    """effdet's anchor labels for a batch, computed in one pass (see the module docstring).

    Args:
        anchors: an ``effdet.anchors.Anchors`` (the model's; its device is used).
        boxes: one ``[N_i, 4]`` yxyx pixel tensor per image (``[0, 4]`` for a negative image).
        classes: one ``[N_i]`` tensor of 1-based class ids per image; ids ``<= -1`` are ignored.
        match_threshold: IoU from which an anchor is a positive (effdet's labeler: 0.5).

    Returns:
        ``(cls_targets, box_targets, num_positives)`` as ``AnchorLabeler.batch_label_anchors``.
    """
    if len(boxes) != len(classes) or not boxes:
        raise BatchError(
            f"label_anchors needs one class tensor per box tensor and at least one image, got "
            f"{len(boxes)} box tensors and {len(classes)} class tensors"
        )
    anchor_boxes: Tensor = anchors.boxes
    device = anchor_boxes.device
    dtype = reduce(torch.promote_types, [b.dtype for b in boxes], anchor_boxes.dtype)
    anchor_boxes = anchor_boxes.to(dtype)
    gt, gt_cls = _pad(boxes, classes, device, dtype)
    valid = gt_cls > -1
    matches = _match(_iou(gt, anchor_boxes), valid, match_threshold)  # [B, A]
    matched = matches >= 0
    index = matches.clamp(min=0)
    matched_boxes = gt.gather(1, index.unsqueeze(-1).expand(-1, -1, 4))
    box_targets = encode_boxes(matched_boxes, anchor_boxes)
    box_targets = box_targets.masked_fill_(~matched.unsqueeze(-1), 0.0)
    cls = gt_cls.gather(1, index).masked_fill_(~matched, 0)
    cls_targets = (cls - 1).long()
    num_positives = matched.float().sum(dim=1)
    return _split_levels(cls_targets, anchors), _split_levels(box_targets, anchors), num_positives
