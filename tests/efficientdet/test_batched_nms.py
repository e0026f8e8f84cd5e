"""Batched NMS (nms_keep) keeps torchvision's boxes, in torchvision's order, for every image."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torchvision.ops import batched_nms

from efficientdet_adapter.model.ops import batched_nms as bnms
from efficientdet_adapter.model.ops.batched_nms import nms_keep, uses_coordinate_trick


def candidates(batch, k, num_classes, seed, spread=128.0, size=40.0, negative=False):
    """Random xyxy boxes with distinct falling scores per image."""
    g = torch.Generator().manual_seed(seed)
    xy = torch.rand(batch, k, 2, generator=g) * spread - (spread / 2 if negative else 0.0)
    wh = torch.rand(batch, k, 2, generator=g) * size + 1.0
    boxes = torch.cat([xy, xy + wh], 2)
    scores = torch.rand(batch, k, generator=g).sort(1, descending=True).values
    classes = torch.randint(0, num_classes, (batch, k), generator=g)
    return boxes, scores, classes


def torchvision_keep(boxes, scores, classes, max_keep):
    """effdet's call per image: the first ``max_keep`` indices torchvision keeps."""
    return [batched_nms(b, s, c, 0.5)[:max_keep].tolist() for b, s, c in zip(boxes, scores, classes)]


def kept_indices(mask):
    return [row.nonzero().flatten().tolist() for row in mask]


@pytest.mark.parametrize(
    "batch, k, num_classes, max_keep, negative, seed",
    [
        (1, 1, 1, 100, False, 0),
        (3, 50, 2, 100, False, 1),  # fewer candidates than max_keep
        (4, 400, 3, 100, False, 2),
        (2, 1000, 5, 100, False, 3),  # the CPU's last count with the coordinate trick
        (2, 1001, 5, 100, False, 4),  # the first count with one NMS per class
        (2, 1000, 4, 100, True, 5),  # negative coordinates, shifted: torchvision's own quirk
        (3, 3000, 90, 100, False, 6),
        (2, 3000, 1, 300, False, 7),
        (5, 700, 2, 20, False, 8),
    ],
)
def test_keeps_what_torchvision_keeps(batch, k, num_classes, max_keep, negative, seed):
    boxes, scores, classes = candidates(batch, k, num_classes, seed, negative=negative)
    mask = nms_keep(boxes, scores, classes, max_keep)
    assert mask.shape == (batch, k) and mask.dtype == torch.bool
    expected = torchvision_keep(boxes, scores, classes, max_keep)
    assert kept_indices(mask) == expected
    assert all(len(e) == min(max_keep, len(e)) > 0 for e in expected)


def test_uses_coordinate_trick_follows_torchvision_thresholds():
    cpu, cuda = torch.device("cpu"), torch.device("cuda")
    assert uses_coordinate_trick(1000, cpu) and not uses_coordinate_trick(1001, cpu)
    assert uses_coordinate_trick(25_000, cuda) and not uses_coordinate_trick(25_001, cuda)


@pytest.mark.parametrize(
    "k, sizes_tried, torchvision_calls",
    [(300, [300], 0), (1500, [512, 1500], 0), (3000, [512, 2048], 1)],
)
def test_larger_prefixes_only_for_images_short_of_kept_boxes(monkeypatch, k, sizes_tried,
                                                             torchvision_calls):
    """Image 0: identical boxes of one class (one kept); image 1: disjoint boxes (all kept)."""
    boxes, scores, classes = candidates(2, k, 1, 0)
    boxes[0] = torch.tensor([10.0, 10.0, 50.0, 50.0])
    xs = torch.arange(k, dtype=torch.float32) * 3
    boxes[1] = torch.stack([xs, xs * 0, xs + 2, xs * 0 + 2], 1)
    seen, calls = [], []
    real_greedy, real_nms = bnms._greedy, bnms.batched_nms
    monkeypatch.setattr(bnms, "_greedy", lambda s: seen.append(tuple(s.shape)) or real_greedy(s))
    monkeypatch.setattr(bnms, "batched_nms", lambda *a: calls.append(1) or real_nms(*a))
    mask = nms_keep(boxes, scores, classes, 100)
    assert kept_indices(mask) == [[0], list(range(min(k, 100)))]
    assert [shape[1] for shape in seen] == sizes_tried
    assert [shape[0] for shape in seen] == [2] + [1] * (len(sizes_tried) - 1)
    assert len(calls) == torchvision_calls


def test_long_suppression_chain():
    """Each box suppresses the next (IoU 0.6): greedy keeps every other one, and, the sweeps settle."""
    k = 300
    x = torch.arange(k, dtype=torch.float32) * 0.25  # width 1: IoU of neighbours = 0.6
    boxes = torch.stack([x, x * 0, x + 1, x * 0 + 1], 1).unsqueeze(0)
    scores = torch.linspace(1.0, 0.1, k).unsqueeze(0)
    classes = torch.zeros(1, k, dtype=torch.int64)
    mask = nms_keep(boxes, scores, classes, k)
    assert kept_indices(mask) == torchvision_keep(boxes, scores, classes, k)
    assert kept_indices(mask)[0][:4] == [0, 2, 4, 6]


def test_empty_inputs():
    boxes, scores, classes = candidates(2, 0, 1, 0)
    assert nms_keep(boxes, scores, classes, 100).shape == (2, 0)
    boxes, scores, classes = candidates(2, 5, 1, 0)
    assert not nms_keep(boxes, scores, classes, 0).any()


def test_images_are_split_into_chunks_that_bound_memory(monkeypatch):
    boxes, scores, classes = candidates(5, 400, 3, 9)
    seen = []
    real_greedy = bnms._greedy
    monkeypatch.setattr(bnms, "_greedy", lambda s: seen.append(s.shape[0]) or real_greedy(s))
    monkeypatch.setattr(bnms, "_MAX_PAIRS", 2 * 400 * 400)
    mask = nms_keep(boxes, scores, classes, 100)
    assert seen == [2, 2, 1]
    assert kept_indices(mask) == torchvision_keep(boxes, scores, classes, 100)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no GPU: the CUDA kernel is not here")
@pytest.mark.parametrize("k, num_classes", [(5000, 90), (5000, 1), (700, 4)])
def test_keeps_what_torchvision_keeps_on_cuda(k, num_classes):
    """effdet's GPU case: the class shift and torchvision's CUDA kernel."""
    boxes, scores, classes = (t.cuda() for t in candidates(4, k, num_classes, 11, spread=512.0))
    assert uses_coordinate_trick(k, boxes.device)
    mask = nms_keep(boxes, scores, classes, 100)
    assert kept_indices(mask.cpu()) == torchvision_keep(boxes, scores, classes, 100)


def test_random_batches_with_equal_edges_zero_areas_and_duplicates():
    """A fuzz over shapes, classes and coordinates on a half-pixel grid (so many IoUs are
    exactly 0.5, the threshold), zero-area boxes and duplicated boxes: torchvision's result
    every time (300 cases were also run once by hand, all equal)."""
    rng = np.random.default_rng(0)
    for case in range(40):
        g = torch.Generator().manual_seed(case)
        b, k = int(rng.integers(1, 4)), int(rng.choice([1, 10, 100, 513, 1000, 1001, 2100]))
        num_classes, max_keep = int(rng.choice([1, 2, 90])), int(rng.choice([1, 5, 100, 300]))
        xy = torch.rand(b, k, 2, generator=g) * float(rng.choice([20, 128])) - float(
            rng.choice([0, 50]))
        wh = torch.rand(b, k, 2, generator=g) * float(rng.choice([1, 10, 60]))
        if case % 5 == 0:
            wh[..., 0] = 0  # zero-area boxes
        boxes = (torch.cat([xy, xy + wh], 2) * 2).round() / 2
        if case % 3 == 0:
            boxes[:, 1::3] = boxes[:, ::3][:, : boxes[:, 1::3].shape[1]]  # duplicates
        scores = torch.rand(b, k, generator=g).sort(1, descending=True).values
        classes = torch.randint(0, num_classes, (b, k), generator=g)
        mask = nms_keep(boxes, scores, classes, max_keep)
        assert kept_indices(mask) == torchvision_keep(boxes, scores, classes, max_keep), case
