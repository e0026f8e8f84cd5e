"""Class-aware hard NMS for a whole batch at once, with torchvision's kept set and order.

effdet calls ``torchvision.ops.batched_nms`` once per image. On a GPU each call sorts, runs its
kernel and copies a ``K x K/64`` bit mask to the host (a sync), so a batch of 64 costs 64 syncs.
`nms_keep` decides the whole batch with tensor operations and a few syncs in all:

* **Greedy NMS as a fixed point.** Candidates arrive best first (``torch.topk``'s order). Box
  ``j`` is kept when no kept box before it, of its class, overlaps it by IoU > 0.5. Starting from
  "all kept", the sweep ``keep[j] = not any(keep[i] and S[i, j] for i < j)`` is repeated on the
  ``[B, M, M]`` overlap matrix ``S`` until nothing changes. That state satisfies the greedy rule
  for every ``j`` in order, so it *is* the greedy result. Sweeps needed = the longest chain of
  suppressions plus one (a handful on real outputs).
* **Only a prefix is needed.** A box's fate depends only on better boxes, so when the best ``M``
  candidates already hold ``max_keep`` kept boxes, the first ``max_keep`` kept boxes of all ``K``
  are those. Prefixes of 512, then 2048 candidates are tried; an image that still lacks
  ``max_keep`` kept boxes gets torchvision's own call on all its candidates.
* **torchvision's arithmetic.** IoU is computed with its kernel's float operations in its order
  (areas, clamped intersection, ``inter / (area_i + area_j - inter) > threshold``). Boxes are
  shifted per class exactly as ``batched_nms`` shifts them where it does (its "coordinate
  trick", chosen by candidate count and device); elsewhere boxes of other classes are masked.

So the kept boxes and their order equal torchvision's on the CPU, bit for bit (tested against
effdet). Two limits of exactness: equal scores keep candidate order here, where torchvision's
final sort (unstable) may swap them, and so may pick other equal-score boxes for the last rows
at the ``max_keep`` cut; and a CUDA compiler may fuse the kernel's multiply-adds, which can flip
an IoU within one rounding of the threshold.
"""

from __future__ import annotations

import torch
from torch import Tensor
from torchvision.ops import batched_nms

__all__ = ["nms_keep", "uses_coordinate_trick", "PREFIXES"]

#: Candidates per image tried by the matrix path before torchvision's call on all of them.
PREFIXES = (512, 2048)
#: Elements of one ``[images, M, M]`` overlap matrix: bounds memory (about 400 MiB of temporaries).
_MAX_PAIRS = 2**24


def uses_coordinate_trick(num_candidates: int, device: torch.device) -> bool:
    """Whether ``torchvision.ops.batched_nms`` shifts boxes by class for this many candidates.

    torchvision 0.29 runs one NMS on class-shifted boxes up to 4,000 box coordinates on the CPU
    and 100,000 elsewhere (and always while tracing), and one NMS per class above that.
    """
    limit = 4000 if device.type == "cpu" else 100_000
    return num_candidates * 4 <= limit or torch.jit.is_tracing()


def _nms_boxes(boxes: Tensor, classes: Tensor, shift: bool) -> Tensor:
    """The boxes torchvision runs NMS on: shifted by ``class * (max + 1)`` per image if ``shift``."""
    if not shift:
        return boxes
    max_coordinate = boxes.amax(dim=(1, 2))  # over all candidates of the image, as torchvision
    offsets = classes.to(boxes) * (max_coordinate + 1).unsqueeze(1)
    return boxes + offsets.unsqueeze(2)


def _suppresses(boxes: Tensor, classes: Tensor | None, iou_threshold: float) -> Tensor:
    """``S[b, i, j]``: candidate ``i`` (better, ``i < j``) would suppress ``j``. ``[B, M, M]`` bool."""
    x1, y1, x2, y2 = boxes.unbind(-1)
    areas = (x2 - x1) * (y2 - y1)
    w = (torch.minimum(x2.unsqueeze(2), x2.unsqueeze(1))
         - torch.maximum(x1.unsqueeze(2), x1.unsqueeze(1))).clamp_(min=0)
    h = (torch.minimum(y2.unsqueeze(2), y2.unsqueeze(1))
         - torch.maximum(y1.unsqueeze(2), y1.unsqueeze(1))).clamp_(min=0)
    inter = w.mul_(h)
    union = (areas.unsqueeze(2) + areas.unsqueeze(1)).sub_(inter)
    overlaps = inter.div_(union) > iou_threshold
    overlaps.triu_(diagonal=1)
    if classes is not None:
        overlaps &= classes.unsqueeze(2) == classes.unsqueeze(1)
    return overlaps


def _greedy(suppresses: Tensor) -> Tensor:
    """The fixed point of the greedy rule over ``suppresses`` ``[B, M, M]``: ``[B, M]`` bool."""
    matrix = suppresses.to(torch.float32)  # sums of at most M ones: exact in float32
    keep = torch.ones(suppresses.shape[:2], dtype=torch.bool, device=suppresses.device)
    for _ in range(suppresses.shape[1] + 1):
        hits = torch.bmm(keep.to(torch.float32).unsqueeze(1), matrix).squeeze(1)
        new = hits == 0
        if torch.equal(new, keep):  # one sync per sweep
            return keep
        keep = new
    raise AssertionError("greedy NMS did not settle")  # pragma: no cover: M + 1 sweeps suffice


def nms_keep(
    boxes: Tensor,
    scores: Tensor,
    classes: Tensor,
    max_keep: int,
    iou_threshold: float = 0.5,
    prefixes: tuple[int, ...] = PREFIXES,
) -> Tensor:
    """Which candidates class-aware hard NMS keeps, for each image of a batch.

    Args:
        boxes: ``[B, K, 4]`` xyxy candidates, best first in each image.
        scores: ``[B, K]`` their scores (non-increasing along ``K``).
        classes: ``[B, K]`` their classes (any integers).
        max_keep: kept boxes needed per image; the mask is exact for the first ``max_keep``.
        iou_threshold: a box is suppressed by a kept one of its class with IoU above this.
        prefixes: candidate counts tried before torchvision's call on all ``K``.

    Returns:
        ``[B, K]`` bool: True for the first ``max_keep`` (or all, if fewer) of
        ``torchvision.ops.batched_nms(boxes[b], scores[b], classes[b], iou_threshold)`` per
        image. Best first, so the kept boxes in candidate order are torchvision's output order.
    """
    batch, k = scores.shape
    kept = torch.zeros((batch, k), dtype=torch.bool, device=boxes.device)
    if batch == 0 or k == 0 or max_keep <= 0:
        return kept
    shift = uses_coordinate_trick(k, boxes.device)
    nms_boxes = _nms_boxes(boxes, classes, shift)
    todo = torch.arange(batch, device=boxes.device)
    for m in sorted({min(p, k) for p in prefixes}):
        chunk = max(1, _MAX_PAIRS // (m * m))
        done = []
        for part in todo.split(chunk):
            sub_classes = None if shift else classes[part, :m]
            keep = _greedy(_suppresses(nms_boxes[part, :m], sub_classes, iou_threshold))
            kept[part, :m] = keep
            done.append((keep.sum(1) >= max_keep) | (m == k))
        todo = todo[~torch.cat(done)]
        if todo.numel() == 0:
            break
    for i in todo.tolist():  # too few kept in the largest prefix: torchvision on all candidates
        keep_index = batched_nms(boxes[i], scores[i], classes[i], iou_threshold)
        kept[i] = False
        kept[i, keep_index] = True
    ranks = kept.cumsum(1)
    return kept & (ranks <= max_keep)
