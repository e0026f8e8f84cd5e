"""effdet's conventions (_targets): records -> targets, detections -> predictions, negatives."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from efficientdet_adapter import BatchError, BBox, ClassMap, Record
from efficientdet_adapter.model.ops.targets import (
    anchor_label_targets,
    img_info,
    img_size_wh,
    label_ids_from_class_index,
    num_classes_with_background,
    num_foreground,
    predictions_from_detections,
    record_targets,
    records_targets,
    xyxy_limits,
    xyxy_to_yxyx,
    yxyx_to_xyxy,
)
from efficientdet_adapter.loop.dataloaders import build_valid_batch

CLASS_MAP = ClassMap(["a", "b", "c"])
SIZE = 128


def make_record(record_id, boxes, label_ids, width=SIZE, height=SIZE, seed=0, class_map=CLASS_MAP):
    rng = np.random.default_rng(seed)
    return Record(
        record_id=record_id,
        filepath=None,
        width=width,
        height=height,
        labels=[class_map.get_by_id(i) if 0 <= i < len(class_map) else "?" for i in label_ids],
        label_ids=list(label_ids),
        bboxes=[BBox.from_xyxy(*b) for b in boxes],
        img=rng.standard_normal((height, width, 3)).astype(np.float32),
        class_map=class_map,
    )


# -- records -> targets ------------------------------------------------------------------------
@pytest.mark.parametrize(
    "boxes, label_ids",
    [
        ([(1, 2, 30, 40)], [1]),
        ([(0, 0, 128, 64), (10.5, 20.25, 11.5, 90)], [3, 2]),
        ([], []),  # a negative image
    ],
)
def test_record_targets_are_yxyx_and_float_1_based(boxes, label_ids):
    box, cls = record_targets(make_record(0, boxes, label_ids))
    assert box.dtype == cls.dtype == torch.float32
    assert box.shape == (len(boxes), 4) and cls.shape == (len(boxes),)
    for row, (x1, y1, x2, y2) in zip(box.tolist(), boxes):
        assert row == [y1, x1, y2, x2]
    assert cls.tolist() == [float(i) for i in label_ids]


@pytest.mark.parametrize(
    "boxes, label_ids, message",
    [
        ([(1, 2, 30, 40)], [0], "label id 0 on a box; id 0 is the background"),
        ([(1, 2, 30, 40), (3, 3, 9, 9)], [2, -1], "label id -1 on a box"),
        ([(1, 2, 30, 40)], [4], "label id 4 is not in the record's class map (ids 0..3"),
        ([(1, 2, 30, 40), (3, 3, 9, 9)], [1], "2 boxes but 1 label ids"),
    ],
)
def test_record_targets_refuse_bad_label_ids(boxes, label_ids, message):
    record = make_record("img7", boxes, [])
    record.label_ids = list(label_ids)
    with pytest.raises(BatchError) as e:
        record_targets(record)
    assert message in str(e.value)
    assert "'img7'" in str(e.value)


def test_records_targets_keeps_batch_order():
    recs = [make_record(i, [(i, i, i + 5, i + 9)] * i, [1 + i % 3] * i) for i in range(4)]
    targets = records_targets(recs)
    assert [t.shape[0] for t in targets["bbox"]] == [0, 1, 2, 3]
    assert [t.tolist() for t in targets["cls"]] == [[1 + i % 3] * i for i in range(4)]
    assert targets["bbox"][3][0].tolist() == [3, 3, 12, 8]


@pytest.mark.parametrize("sizes, scale", [([(64, 48), (32, 96)], None), ([(10, 20)], [0.5])])
def test_img_info_is_width_height_and_scale(sizes, scale):
    recs = [make_record(i, [], [], width=w, height=h) for i, (w, h) in enumerate(sizes)]
    info = img_info(recs, img_scale=scale)
    assert info["img_size"].dtype == info["img_scale"].dtype == torch.float32
    assert info["img_size"].tolist() == [[float(w), float(h)] for w, h in sizes]
    assert info["img_scale"].tolist() == (scale or [1.0] * len(sizes))


# -- detections -> predictions -------------------------------------------------------------
DETS = torch.tensor(
    [
        [[10, 20, 50, 60, 0.9, 2], [0, 0, 30, 30, 0.3, 1], [5, 5, 200, 90, 0.05, 3], [0] * 6],
        [[0] * 6, [0] * 6, [0] * 6, [0] * 6],  # nothing found: all padding
    ],
    dtype=torch.float32,
)


@pytest.mark.parametrize(
    "min_score, expected_scores",
    [(0.0, [[0.9, 0.3, 0.05], []]), (0.1, [[0.9, 0.3], []]), (0.95, [[], []])],
)
def test_predictions_skip_padding_and_keep_scores_above_the_floor(min_score, expected_scores):
    recs = [make_record(0, [(1, 1, 9, 9)], [1]), make_record(1, [], [])]
    preds = predictions_from_detections(DETS, recs, detection_threshold=0.25, min_score=min_score)
    assert [p.scores.tolist() for p in preds] == [pytest.approx(s) for s in expected_scores]
    first = preds[0]
    n = len(expected_scores[0])
    assert first.boxes.tolist() == DETS[0, :n, :4].tolist()
    assert first.label_ids.tolist() == [2, 1, 3][:n]
    assert len(first) == sum(s >= 0.25 for s in expected_scores[0])  # the threshold's view
    assert first.labels == ["b", "a"][: len(first)]
    assert first.ground_truth is recs[0] and preds[1].ground_truth is recs[1]
    assert (preds[1].boxes.shape, preds[1].label_ids.dtype) == ((0, 4), np.int64)


@pytest.mark.parametrize("img_scale", [2.0, [2.0, 0.5], torch.tensor([2.0, 0.5])])
def test_predictions_scale_back_and_clip_to_the_record(img_scale):
    recs = [make_record("a", [], [], width=300, height=100), make_record("b", [], [])]
    dets = DETS.clone()
    dets[1, 0] = torch.tensor([4, 8, 12, 16, 0.7, 1])
    preds = predictions_from_detections(dets, recs, img_scale=img_scale)
    s0 = 2.0
    expected0 = (DETS[0, :3, :4].numpy() * s0).clip(0, [300, 100, 300, 100])
    np.testing.assert_allclose(preds[0].boxes, expected0)
    s1 = 2.0 if isinstance(img_scale, float) else 0.5
    np.testing.assert_allclose(preds[1].boxes, [[4 * s1, 8 * s1, 12 * s1, 16 * s1]])
    assert (preds[0].width, preds[0].height, preds[0].record_id) == (300, 100, "a")


def test_predictions_options_class_map_ground_truth_images():
    recs = [make_record(0, [], []), make_record(1, [], [])]
    other = ClassMap(["x", "y", "z"])
    preds = predictions_from_detections(
        DETS.numpy(), recs, class_map=other, ground_truth=False, keep_images=True
    )
    assert preds[0].with_threshold(0.0).labels == ["y", "x", "z"]
    assert preds[0].ground_truth is None and preds[0].record_id == 0
    assert preds[1].img is recs[1].img


@pytest.mark.parametrize("shape", [(2, 4, 5), (3, 4, 6), (4, 6)])
def test_predictions_refuse_wrong_shapes(shape):
    with pytest.raises(ValueError, match=r"\[B, K, 6\] with B = 2 records"):
        predictions_from_detections(torch.zeros(shape), [make_record(0, [], [])] * 2)


# -- negatives through a real effdet bench -------------------------------------------------
def background_focal_loss(bench, images):
    """Closed form of effdet's class loss when every anchor's target is background (0 positives):
    sum over anchors and classes of (1 - alpha) * p**gamma * -log(1 - p), normalized by 0 + 1."""
    cfg = bench.config
    cls_out, _ = bench.model(images)
    total = 0.0
    for logits in cls_out:
        z = logits.double()
        p = torch.sigmoid(z)
        total += ((1 - cfg.alpha) * p**cfg.gamma * torch.nn.functional.softplus(z)).sum()
    return total


@pytest.mark.parametrize(
    "encoding, positives",
    [
        ("empty", 0),  # ours: [0, 4] boxes, [0] classes
        ("padded_minus_1", 0),  # effdet's own loader padding, filtered by the labeler
        ("icevision_dummy_class_0", 1),  # IceVision's [0, 0, 0, 0] box of class 0: wrong
    ],
)
def test_negative_encodings_in_effdet_labeler(bench, encoding, positives):
    box, cls = {
        "empty": record_targets(make_record(0, [], [])),
        "padded_minus_1": (torch.full((3, 4), -1.0), torch.full((3,), -1.0)),
        "icevision_dummy_class_0": (torch.zeros(1, 4), torch.zeros(1)),
    }[encoding]
    labels = anchor_label_targets(bench.anchor_labeler, [box], [cls])
    assert labels["label_num_positives"].tolist() == [positives]
    nonzero_box_targets = sum(
        int((labels[f"label_bbox_{lvl}"] != 0).sum()) for lvl in range(bench.num_levels)
    )
    assert nonzero_box_targets == 4 * positives
    assert all((labels[f"label_cls_{lvl}"] == -1).all() for lvl in range(bench.num_levels))


def test_batch_of_only_negatives_trains_towards_background(bench):
    recs = [make_record(i, [], [], seed=i) for i in range(2)]
    (images, targets), _ = build_valid_batch(recs, clip_to_image=True)
    with torch.no_grad():
        out = bench(images, targets)
        expected_class_loss = background_focal_loss(bench, images)
    assert torch.isfinite(out["loss"])
    assert out["box_loss"].item() == 0.0
    assert out["class_loss"].item() == pytest.approx(expected_class_loss.item(), rel=1e-5)
    assert out["loss"].item() == pytest.approx(out["class_loss"].item(), rel=1e-6)
    # every class logit of every anchor gets a positive gradient: a step lowers them all
    cls_out, box_out = bench.model(images)
    for t in cls_out:
        t.retain_grad()
    labels = anchor_label_targets(bench.anchor_labeler, targets["bbox"], targets["cls"])
    cls_t = [labels[f"label_cls_{lvl}"] for lvl in range(bench.num_levels)]
    box_t = [labels[f"label_bbox_{lvl}"] for lvl in range(bench.num_levels)]
    loss, _, _ = bench.loss_fn(cls_out, box_out, cls_t, box_t, labels["label_num_positives"])
    loss.backward()
    num_logits = len(images) * bench.anchors.boxes.shape[0] * bench.num_classes
    assert sum(t.grad.numel() for t in cls_out) == num_logits
    assert all(bool((t.grad > 0).all()) for t in cls_out)
    # (a detection is still returned per image, in the transformed image's pixels)
    assert out["detections"].shape[:2] == (2, bench.config.max_det_per_image)
    assert float(out["detections"][..., :4].max()) <= SIZE


def test_mixed_batch_loss_is_the_sum_of_its_images(bench):
    """effdet normalizes the summed per-anchor losses by (total positives + 1), so the batch loss
    times (P + 1) equals the sum of each image's loss times (P_i + 1); the negative's share is
    exactly the background focal loss, and it adds nothing to the box loss."""
    pos = make_record(0, [(10, 12, 60, 70), (64, 30, 120, 100)], [1, 3], seed=10)
    neg = make_record(1, [], [], seed=11)
    with torch.no_grad():
        (images, targets), _ = build_valid_batch([pos, neg])
        out = bench(images, targets)
        total_p = float(
            anchor_label_targets(bench.anchor_labeler, targets["bbox"], targets["cls"])[
                "label_num_positives"
            ].sum()
        )
        single = {}
        for name, rec in (("pos", pos), ("neg", neg)):
            (img_i, tgt_i), _ = build_valid_batch([rec])
            out_i = bench(img_i, tgt_i)
            p_i = float(
                anchor_label_targets(bench.anchor_labeler, tgt_i["bbox"], tgt_i["cls"])[
                    "label_num_positives"
                ].sum()
            )
            single[name] = {k: out_i[k].item() * (p_i + 1) for k in ("class_loss", "box_loss")}
            single[name]["p"] = p_i
        neg_background = background_focal_loss(bench, images[1:]).item()
    assert single["neg"]["p"] == 0 and single["pos"]["p"] >= 2  # every box matches an anchor
    assert total_p == single["pos"]["p"]
    assert single["neg"]["box_loss"] == 0.0
    assert single["neg"]["class_loss"] == pytest.approx(neg_background, rel=1e-5)
    for key in ("class_loss", "box_loss"):
        assert out[key].item() * (total_p + 1) == pytest.approx(
            single["pos"][key] + single["neg"][key], rel=1e-4
        )
    weight = bench.config.box_loss_weight
    assert out["loss"].item() == pytest.approx(
        out["class_loss"].item() + weight * out["box_loss"].item(), rel=1e-6
    )


# -- the conventions, one function each ---------------------------------------------------------
@pytest.mark.parametrize(
    "fn, given, expected",
    [
        (xyxy_to_yxyx, [[1, 2, 3, 4]], [[2, 1, 4, 3]]),
        (xyxy_to_yxyx, [[1, 2, 3, 4], [5, 6, 7, 8]], [[2, 1, 4, 3], [6, 5, 8, 7]]),
        (yxyx_to_xyxy, [[2, 1, 4, 3]], [[1, 2, 3, 4]]),
        (yxyx_to_xyxy, [[[0, 1, 2, 3]]], [[[1, 0, 3, 2]]]),  # any leading dims
    ],
)
@pytest.mark.parametrize("kind", ["numpy", "torch"])
def test_box_order_swaps(fn, given, expected, kind):
    boxes = np.asarray(given, np.float32) if kind == "numpy" else torch.tensor(given).float()
    out = fn(boxes)
    assert type(out) is type(boxes) and out.tolist() == expected
    assert fn(np.zeros((0, 4))).shape == (0, 4)


@pytest.mark.parametrize(
    "fn, given, expected",
    [
        (num_foreground, 3, 2),
        (num_foreground, 2, 1),
        (num_classes_with_background, 2, 3),
        (num_classes_with_background, 90, 91),
        (label_ids_from_class_index, 0, 1),
        (label_ids_from_class_index, 89, 90),
    ],
)
def test_class_id_shift(fn, given, expected):
    assert fn(given) == expected


def test_class_id_shift_round_trips_and_works_on_tensors():
    assert num_classes_with_background(num_foreground(7)) == 7
    assert label_ids_from_class_index(torch.tensor([0, 1, 4])).tolist() == [1, 2, 5]


@pytest.mark.parametrize(
    "height, width, wh, limits",
    [(48, 64, (64, 48), (64, 48, 64, 48)), (384, 256, (256, 384), (256, 384, 256, 384))],
)
def test_size_order(height, width, wh, limits):
    assert img_size_wh(height, width) == wh
    assert xyxy_limits(height, width) == limits
    assert img_info([Record(0, None, width, height)])["img_size"].tolist() == [list(wh)]
