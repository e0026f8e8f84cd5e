"""Detections for a whole batch at once, equal to effdet's ``_post_process`` + ``_batch_detection``.

effdet 0.4.1 ranks its candidates for the batch, then decodes, clips, scores and runs NMS one
image at a time (``generate_detections``), about 25 small operations and one NMS call (a host
sync on a GPU) per image. `detections` does each step once for the whole batch, NMS
included (`nms_keep`, which keeps what
effdet's ``torchvision.ops.batched_nms(boxes, scores, classes, 0.5)`` keeps, in its order).

Tensor contract:

* **In**: the network's outputs, per level ``class_out[l]`` ``[B, A_l * C, H_l, W_l]`` logits and
  ``box_out[l]`` ``[B, A_l * 4, H_l, W_l]`` box codes; ``anchor_boxes`` ``[A, 4]`` yxyx pixels;
  optional ``img_size`` ``[B, 2]`` (width, height) and ``img_scale`` ``[B]``. Clipping needs both
  (to ``img_size / img_scale``); boxes are multiplied by ``img_scale`` when it is given.
* **Out**: ``[B, max_det_per_image, 6]`` float32 rows ``x1, y1, x2, y2, score, cls`` (xyxy boxes,
  sigmoid scores, 1-based classes), best first, images with fewer detections padded with zeros.

Exactness: the same elementwise float operations as effdet in the same order, so detections are
bit-identical to effdet's (tested on the CPU), except among equal scores: torchvision orders
those with an unstable sort, we keep candidate order (see ``batched_nms``). One CPU detail:
PyTorch's CPU ``sigmoid`` computes the last few elements of each call on a scalar path that can
differ from its vectorized path by one ulp, so on the CPU the scores are computed per image, as
effdet's calls are.

Example:
    >>> dets = detections(class_out, box_out, model.anchors.boxes, num_classes=2,  # doctest: +SKIP
    ...                   max_detection_points=5000, max_det_per_image=100)
    >>> dets.shape                                                                    # doctest: +SKIP
    torch.Size([8, 100, 6])
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

from efficientdet_adapter.model.ops.targets import label_ids_from_class_index
from efficientdet_adapter.model.ops.batched_nms import nms_keep

__all__ = ["top_candidates", "decode_boxes", "clip_boxes", "detections"]

#: effdet's IoU threshold for its (hard) class-aware NMS.
NMS_IOU_THRESHOLD = 0.5


def top_candidates(
    class_out: Sequence[Tensor], box_out: Sequence[Tensor], num_classes: int, k: int
) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """The ``k`` best (anchor, class) logits of each image over all levels.

    Returns:
        ``(logits [B, k], box_codes [B, k, 4], anchor_index [B, k], class_index [B, k])``, in
        ``torch.topk``'s order; ``class_index`` is 0-based.
    """
    batch = class_out[0].shape[0]
    logits = torch.cat([c.permute(0, 2, 3, 1).reshape(batch, -1, num_classes) for c in class_out], 1)
    codes = torch.cat([b.permute(0, 2, 3, 1).reshape(batch, -1, 4) for b in box_out], 1)
    top_logits, flat_index = torch.topk(logits.reshape(batch, -1), k=k, dim=1)
    anchor_index = flat_index // num_classes
    class_index = flat_index % num_classes
    top_codes = torch.gather(codes, 1, anchor_index.unsqueeze(2).expand(-1, -1, 4))
    return top_logits, top_codes, anchor_index, class_index


def decode_boxes(codes: Tensor, anchors: Tensor) -> Tensor:
    """Box codes ``(ty, tx, th, tw)`` relative to yxyx ``anchors`` -> xyxy boxes (any leading dims)."""
    ay0, ax0, ay1, ax1 = anchors.unbind(-1)
    ycenter_a = (ay0 + ay1) / 2
    xcenter_a = (ax0 + ax1) / 2
    ha = ay1 - ay0
    wa = ax1 - ax0
    ty, tx, th, tw = codes.unbind(-1)
    w = torch.exp(tw) * wa
    h = torch.exp(th) * ha
    ycenter = ty * ha + ycenter_a
    xcenter = tx * wa + xcenter_a
    half_h = h / 2.0
    half_w = w / 2.0
    return torch.stack([xcenter - half_w, ycenter - half_h, xcenter + half_w, ycenter + half_h], -1)


def clip_boxes(boxes: Tensor, img_size: Tensor, img_scale: Tensor) -> Tensor:
    """Clamp xyxy ``boxes`` ``[B, K, 4]`` to ``[0, img_size / img_scale]`` per image."""
    limit = (img_size / img_scale.reshape(-1, 1)).repeat(1, 2).unsqueeze(1)  # [B, 1, 4] (w h w h)
    return boxes.clamp(min=0).minimum(limit)


def _scores(logits: Tensor) -> Tensor:
    if logits.device.type == "cpu":  # per image, as effdet's calls are (see the module docstring)
        return torch.stack([row.sigmoid() for row in logits]).float()
    return logits.sigmoid().float()


def detections(
    class_out: Sequence[Tensor],
    box_out: Sequence[Tensor],
    anchor_boxes: Tensor,
    *,
    num_classes: int,
    max_detection_points: int,
    img_scale: Tensor | None = None,
    img_size: Tensor | None = None,
    max_det_per_image: int = 100,
) -> Tensor:
    """effdet's detections ``[B, max_det_per_image, 6]`` for a batch (see the module docstring).

    Args:
        class_out: per level ``[B, A_l * num_classes, H_l, W_l]`` class logits.
        box_out: per level ``[B, A_l * 4, H_l, W_l]`` box codes.
        anchor_boxes: ``[A, 4]`` yxyx anchors of all levels (``model.anchors.boxes``).
        num_classes: foreground classes of the network.
        max_detection_points: candidates kept per image before NMS (effdet's top-k, 5000).
        img_scale: ``[B]`` factor from model pixels to output pixels, or None.
        img_size: ``[B, 2]`` (width, height) to clip to (divided by ``img_scale``), or None.
        max_det_per_image: detections kept per image after NMS.
    """
    logits, codes, anchor_index, class_index = top_candidates(
        class_out, box_out, num_classes, max_detection_points
    )
    batch = anchor_index.shape[0]
    boxes = decode_boxes(codes.float(), anchor_boxes[anchor_index])
    if img_scale is not None and img_size is not None:
        boxes = clip_boxes(boxes, img_size, img_scale)
    scores = _scores(logits)
    kept = nms_keep(boxes, scores, class_index, max_det_per_image, NMS_IOU_THRESHOLD)
    if img_scale is not None:
        boxes = boxes * img_scale.reshape(-1, 1, 1)
    rows = torch.cat(
        [boxes, scores.unsqueeze(2), label_ids_from_class_index(class_index).unsqueeze(2).float()],
        dim=2,
    )
    slot = torch.where(kept, kept.cumsum(1) - 1, max_det_per_image)  # rank among kept, or a bin
    out = torch.zeros((batch, max_det_per_image + 1, 6), dtype=rows.dtype, device=rows.device)
    out.scatter_(1, slot.unsqueeze(2).expand(-1, -1, 6), rows)
    return out[:, :max_det_per_image]
