"""The batched anchor labeler (anchor_labels) gives effdet's AnchorLabeler labels, bit for bit."""

from __future__ import annotations

import pytest
import torch
from effdet.anchors import AnchorLabeler, Anchors

from efficientdet_adapter.model.ops.anchor_labels import label_anchors

ASPECTS = [(1.0, 1.0), (1.4, 0.7), (0.7, 1.4)]


def make_anchors(size=(128, 128), min_level=3, max_level=7) -> Anchors:
    return Anchors(min_level, max_level, 3, ASPECTS, 4.0, size)


def random_boxes(n, size, seed, min_side=1.0, max_side=None):
    g = torch.Generator().manual_seed(seed)
    h, w = size
    max_side = max_side or max(h, w) / 2
    yx = torch.rand(n, 2, generator=g) * torch.tensor([h, w])
    hw = min_side + torch.rand(n, 2, generator=g) * (max_side - min_side)
    return torch.cat([yx, yx + hw], dim=1)  # may cross the border, as augmented boxes do


def random_classes(n, seed, num_classes=4):
    g = torch.Generator().manual_seed(seed + 1)
    return torch.randint(1, num_classes + 1, (n,), generator=g).float()


def t(rows):
    return torch.tensor(rows, dtype=torch.float32).reshape(-1, 4)


def c(ids):
    return torch.tensor(ids, dtype=torch.float32)


SIZE = (128, 128)
# Anchor 0 of level 3 (stride 8, anchor scale 4, 1:1): centre (4, 4), side 32 -> yxyx (-12, -12, 20, 20).
ANCHOR0 = [-12.0, -12.0, 20.0, 20.0]
CASES = {
    "empty image": ([t([])], [c([])]),
    "all images empty": ([t([]), t([]), t([])], [c([]), c([]), c([])]),
    "one box": ([t([[10, 20, 60, 90]])], [c([2])]),
    "border boxes": ([t([[0, 0, 128, 128], [0, 0, 5, 128], [120, 0, 128, 9], [-10, -4, 30, 140]])],
                     [c([1, 2, 3, 1])]),
    "tiny and zero-area boxes": ([t([[5, 5, 5.5, 5.25], [64, 64, 64, 64], [200, 200, 201, 201],
                                     [31.9, 7.0, 32.0, 7.1]])], [c([1, 2, 3, 4])]),
    "duplicate boxes (ties)": ([t([[16, 16, 48, 48]] * 3 + [[10, 20, 60, 90]] * 2)],
                               [c([3, 1, 2, 4, 2])]),
    "boxes equal to anchors (IoU 1)": ([t([ANCHOR0, ANCHOR0, [-12, -4, 20, 28]])], [c([1, 2, 3])]),
    "ignored class -1": ([t([[10, 20, 60, 90], [16, 16, 48, 48]])], [c([-1, 2])]),
    "hundreds of boxes": ([random_boxes(300, SIZE, 0)], [random_classes(300, 0)]),
    "mixed batch": (
        [t([]), random_boxes(7, SIZE, 1), t([[0, 0, 128, 128]]), t([]), random_boxes(40, SIZE, 2, 0.5, 12)],
        [c([]), random_classes(7, 1), c([1]), c([]), random_classes(40, 2)],
    ),
    "int64 classes": ([t([[10, 20, 60, 90], [0, 0, 30, 30]])], [torch.tensor([2, 3])]),
}


def assert_same_labels(anchors, boxes, classes):
    ref_cls, ref_box, ref_pos = AnchorLabeler(anchors, 4, match_threshold=0.5).batch_label_anchors(
        boxes, classes)
    cls_t, box_t, num_pos = label_anchors(anchors, boxes, classes)
    assert len(cls_t) == len(box_t) == len(ref_cls)
    for level, (a, b) in enumerate(zip(cls_t, ref_cls)):
        assert a.dtype == b.dtype == torch.int64 and a.shape == b.shape, level
        assert torch.equal(a, b), f"class targets differ at level {level}"
    for level, (a, b) in enumerate(zip(box_t, ref_box)):
        assert a.dtype == b.dtype and a.shape == b.shape, level
        # bitwise: the same elementwise float32 operations in the same order
        assert torch.equal(a, b), f"box targets differ at level {level}: {(a - b).abs().max()}"
    assert num_pos.dtype == ref_pos.dtype == torch.float32
    assert num_pos.tolist() == ref_pos.tolist()
    return num_pos


@pytest.mark.parametrize("name", list(CASES))
def test_labels_equal_effdet(name):
    boxes, classes = CASES[name]
    num_pos = assert_same_labels(make_anchors(SIZE), boxes, classes)
    assert num_pos.shape == (len(boxes),)


@pytest.mark.parametrize(
    "size, n_boxes, seed",
    [((256, 384), 120, 3), ((384, 256), 5, 4), ((128, 128), 1, 5), ((256, 256), 500, 6)],
)
def test_labels_equal_effdet_random_batches(size, n_boxes, seed):
    boxes = [random_boxes(n_boxes, size, seed), random_boxes(max(n_boxes // 3, 1), size, seed + 7),
             t([])]
    classes = [random_classes(len(b), seed) for b in boxes]
    assert_same_labels(make_anchors(size), boxes, classes)


@pytest.mark.parametrize(
    "boxes, classes, expected_positives",
    [
        ([t([])], [c([])], [0.0]),
        ([t([ANCHOR0])], [c([2])], [14.0]),  # effdet's count too: neighbours reach IoU 0.5
        ([t([[64, 64, 64, 64]])], [c([1])], [1.0]),  # zero-area box: force-matched to anchor 0
    ],
)
def test_known_positive_counts(boxes, classes, expected_positives):
    cls_t, box_t, num_pos = label_anchors(make_anchors(SIZE), boxes, classes)
    assert num_pos.tolist() == expected_positives


def test_zero_area_box_is_force_matched_to_the_first_anchor():
    """effdet's quirk, kept: a box that overlaps no anchor claims anchor 0 (all IoUs are 0)."""
    cls_t, box_t, _ = label_anchors(make_anchors(SIZE), [t([[64, 64, 64, 64]])], [c([3])])
    assert cls_t[0][0, 0, 0, 0].item() == 2  # 1-based class 3 -> 0-based 2
    assert int((torch.cat([x.flatten() for x in cls_t]) >= 0).sum()) == 1


def test_shared_best_anchor_goes_to_the_first_box():
    """Two equal boxes: every anchor (the force-matched one included) takes the first one."""
    cls_t, _, num_pos = label_anchors(make_anchors(SIZE), [t([ANCHOR0, ANCHOR0])], [c([1, 2])])
    labels = torch.cat([x.flatten() for x in cls_t])
    assert cls_t[0][0, 0, 0, 0].item() == 0 and num_pos.tolist() == [14.0]
    assert set(labels.tolist()) == {-1, 0}


def test_refuses_mismatched_lists():
    with pytest.raises(ValueError, match="one class tensor per box tensor"):
        label_anchors(make_anchors(SIZE), [t([])], [])


@pytest.mark.parametrize("training", [True, False])
def test_model_loss_equals_loss_with_effdet_labels(training):
    """The model labels in its forward with label_anchors; effdet's labels give the same loss."""
    from efficientdet_adapter.efficientdet import anchor_labeler, model as create_model
    from efficientdet_adapter.model.ops.targets import anchor_label_targets

    torch.manual_seed(0)
    m = create_model(model_name="tf_efficientdet_lite0", num_classes=5, img_size=128)
    m.train(training)
    boxes = [random_boxes(6, SIZE, 11), t([]), t([[0, 0, 128, 128]])]
    classes = [random_classes(6, 11), c([]), c([3])]
    images = torch.randn(3, 3, 128, 128)
    effdet_labels = anchor_label_targets(anchor_labeler(m), boxes, classes)
    with torch.no_grad():
        ours = m(images, {"bbox": boxes, "cls": classes})
        theirs = m(images, effdet_labels)
    for key in ("loss", "class_loss", "box_loss"):
        assert torch.equal(ours[key], theirs[key]), key
    assert ours["loss"].item() > 0


def test_training_forward_has_no_syncing_ops(syncing_ops):
    """A training step's forward (labels + network + loss) never reads device data on the host;
    effdet's labeler does, once per image (its boolean mask of valid boxes)."""
    from efficientdet_adapter.efficientdet import model as create_model

    torch.manual_seed(0)
    m = create_model(model_name="tf_efficientdet_lite0", num_classes=5, img_size=128).train()
    boxes = [random_boxes(4, SIZE, 1), t([]), random_boxes(9, SIZE, 2)]
    classes = [random_classes(len(b), 3) for b in boxes]
    images = torch.randn(3, 3, 128, 128)
    assert syncing_ops(lambda: m(images, {"bbox": boxes, "cls": classes})["loss"].backward()) == []
    effdet = AnchorLabeler(make_anchors(SIZE), 4, match_threshold=0.5)
    effdet_ops = syncing_ops(lambda: effdet.batch_label_anchors(boxes, classes))
    assert effdet_ops.count("index with a bool mask") == 6  # boxes and classes of each image
