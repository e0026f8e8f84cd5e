"""Batched post-processing (postprocess) gives effdet's detections, bit for bit."""

from __future__ import annotations

import pytest
import torch
from effdet.anchors import Anchors
from effdet.bench import _batch_detection, _post_process

from efficientdet_adapter.model.ops.postprocess import detections

ASPECTS = [(1.0, 1.0), (1.4, 0.7), (0.7, 1.4)]
LEVELS = range(3, 8)


def head_outputs(batch, size, num_classes, seed, ties=False, logit_scale=2.0):
    """Random class logits and box codes per level, shaped like effdet's heads."""
    g = torch.Generator().manual_seed(seed)
    class_out, box_out = [], []
    for level in LEVELS:
        h, w = size[0] // 2**level, size[1] // 2**level
        logits = torch.randn(batch, 9 * num_classes, h, w, generator=g) * logit_scale
        if ties:  # few distinct scores: many equal logits, as an untrained head gives
            logits = (logits * 2).round() / 2
        class_out.append(logits)
        box_out.append(torch.randn(batch, 9 * 4, h, w, generator=g) * 0.5)
    return class_out, box_out


def effdet_detections(class_out, box_out, anchors, num_classes, k, img_scale, img_size, max_det):
    top = _post_process(class_out, box_out, num_levels=5, num_classes=num_classes,
                        max_detection_points=k)
    return _batch_detection(class_out[0].shape[0], *top[:2], anchors, *top[2:], img_scale,
                            img_size, max_det_per_image=max_det)


@pytest.mark.parametrize(
    "batch, size, num_classes, k, max_det, ties, info, seed",
    [
        (1, (128, 128), 2, 1000, 100, False, "clip", 0),
        (2, (128, 128), 3, 5000, 100, True, "clip", 1),
        (4, (256, 128), 5, 5000, 100, False, "scale", 2),
        (3, (128, 256), 1, 3000, 100, True, None, 3),
        (8, (128, 128), 4, 2000, 20, False, "clip", 4),
        (5, (256, 256), 90, 5000, 100, True, "clip", 5),
        # 12 candidates of 90 classes, moderate logits: every candidate is a detection, and the
        # CPU sigmoid of a whole [16, 12] batch differs from effdet's per-image calls in 7 ulps
        (16, (128, 128), 90, 12, 100, False, "clip", 8),
    ],
)
def test_detections_equal_effdet(batch, size, num_classes, k, max_det, ties, info, seed):
    anchors = Anchors(3, 7, 3, ASPECTS, 4.0, size).boxes
    logit_scale = 0.2 if k < 100 else 2.0
    class_out, box_out = head_outputs(batch, size, num_classes, seed, ties, logit_scale)
    img_scale = img_size = None
    if info == "clip":  # unit scale, clipped to the input
        img_size = torch.tensor([[size[1], size[0]]] * batch, dtype=torch.float32)
        img_scale = torch.ones(batch)
    elif info == "scale":  # per-image scales and sizes, as predictions on originals have
        img_scale = torch.linspace(0.5, 2.0, batch)
        img_size = torch.stack([torch.linspace(60, 300, batch), torch.linspace(90, 200, batch)], 1)
    expected = effdet_detections(class_out, box_out, anchors, num_classes, k, img_scale, img_size,
                                 max_det)
    got = detections(class_out, box_out, anchors, num_classes=num_classes,
                     max_detection_points=k, img_scale=img_scale, img_size=img_size,
                     max_det_per_image=max_det)
    assert got.shape == expected.shape == (batch, max_det, 6) and got.dtype == expected.dtype
    assert int((got[..., 4] > 0).sum()) == int((expected[..., 4] > 0).sum()) > 0
    if not ties:
        assert torch.equal(got, expected), (got - expected).abs().max()
        return
    every_kept = effdet_detections(class_out, box_out, anchors, num_classes, k, img_scale,
                                   img_size, k)
    for ours, theirs, all_theirs in zip(got, expected, every_kept):
        assert_equal_up_to_ties(ours, theirs, all_theirs)


def rows(t):
    return sorted(map(tuple, t.tolist()))


def assert_equal_up_to_ties(ours, theirs, all_theirs):
    """One image's detections equal effdet's, except how equal scores are ordered.

    torchvision orders equal scores with an unstable sort; we keep candidate order. So: the same
    scores row by row, the same rows within each score, and in the last score (cut off at
    ``max_det``) rows that effdet keeps too.
    """
    assert torch.equal(ours[:, 4], theirs[:, 4])
    last = theirs[-1, 4]
    for score in theirs[:, 4].unique():
        if score == last:
            assert set(rows(ours[ours[:, 4] == score])) <= set(rows(all_theirs))
        else:
            assert rows(ours[ours[:, 4] == score]) == rows(theirs[theirs[:, 4] == score])


def test_padding_rows_are_zero_when_few_detections():
    """One class, all boxes the same: class-aware NMS keeps one box per image."""
    size = (128, 128)
    anchors = Anchors(3, 7, 3, ASPECTS, 4.0, size).boxes
    class_out, box_out = head_outputs(2, size, 1, 0)
    # every anchor decodes to the whole image: huge codes, clipped
    box_out = [torch.full_like(b, 10.0) for b in box_out]
    img_size = torch.tensor([[128.0, 128.0]] * 2)
    got = detections(class_out, box_out, anchors, num_classes=1, max_detection_points=500,
                     img_scale=torch.ones(2), img_size=img_size, max_det_per_image=100)
    expected = effdet_detections(class_out, box_out, anchors, 1, 500, torch.ones(2), img_size, 100)
    assert torch.equal(got, expected)
    assert (got[:, 0, 4] > 0).all() and got[:, 0, :4].tolist() == [[0, 0, 128, 128]] * 2
    assert not got[:, 1:].any()


@pytest.mark.parametrize("soft_nms", [False, True])
def test_model_detect_equals_effdet_predict_bench(soft_nms):
    """The whole model (batched path, or effdet's for soft-NMS) against DetBenchPredict."""
    from effdet import DetBenchPredict

    from efficientdet_adapter.efficientdet import model as create_model

    torch.manual_seed(0)
    m = create_model(model_name="tf_efficientdet_lite0", num_classes=4, img_size=128,
                     soft_nms=soft_nms).eval()
    with torch.no_grad():
        for p in m.model.class_net.predict.parameters():  # distinct scores
            p.normal_(0.0, 0.3)
    predictor = DetBenchPredict(m.model).eval()
    images = torch.randn(3, 3, 128, 128)
    info = {"img_scale": torch.tensor([1.0, 0.5, 2.0]), "img_size": torch.full((3, 2), 128.0)}
    with torch.no_grad():
        expected = predictor(images, info)
        got = m.detect(images, img_size=info["img_size"], img_scale=info["img_scale"])
    assert torch.equal(got, expected)
