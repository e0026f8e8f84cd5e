"""Transforms: boxes follow the image, lists stay aligned, padding has the asked-for colour."""

from __future__ import annotations

import copy
import functools
import pickle

import albumentations
import numpy as np
import pytest

from efficientdet_adapter import BBox, Record, tfms
from efficientdet_adapter.base.errors import UsageError
from efficientdet_adapter.records.record import Geometry, ImgSize
from efficientdet_adapter.tfms import A

RANDOM_PARTS_OFF = dict(
    horizontal_flip=None, shift_scale_rotate=None, rgb_shift=None, lightning=None, blur=None
)


def _record(w=100, h=60, boxes=((10, 10, 30, 20), (60, 30, 90, 55)), img=None, filepath=None):
    n = len(boxes)
    return Record(
        record_id=7,
        filepath=filepath,
        width=w,
        height=h,
        labels=[f"c{i}" for i in range(n)],
        label_ids=list(range(1, n + 1)),
        bboxes=[BBox.from_xyxy(*b) for b in boxes],
        iscrowds=[i % 2 == 1 for i in range(n)],
        areas=[BBox.from_xyxy(*b).area for b in boxes],
        img=np.full((h, w, 3), 255, np.uint8) if img is None and filepath is None else img,
    )


def test_A_exposes_albumentations_classes():
    assert A.HorizontalFlip is albumentations.HorizontalFlip
    assert tfms.A.Adapter is tfms.Adapter
    with pytest.raises(AttributeError, match="NoSuchTransform"):
        A.NoSuchTransform


# -- padding colour ------------------------------------------------------------------------
@pytest.mark.parametrize(
    "build,color",
    [
        (lambda: A.resize_and_pad(64), A.DEFAULT_PAD_COLOR),
        (lambda: A.resize_and_pad(64, pad_color=(1, 2, 3)), (1, 2, 3)),
        (lambda: A.aug_tfms(64, crop_fn=None, **RANDOM_PARTS_OFF), A.DEFAULT_PAD_COLOR),
        (lambda: A.aug_tfms(64, presize=80, crop_fn=None, **RANDOM_PARTS_OFF, pad_color=(9, 8, 7)),
         (9, 8, 7)),
    ],
)
def test_padding_colour_is_the_requested_one(build, color):
    out = A.Adapter(build())(_record(w=100, h=50))  # 100x50 -> 64x32, pad 16 rows above/below
    assert out.img.shape == (64, 64, 3)
    assert out.img[0, 0].tolist() == list(color)
    assert out.img[63, 63].tolist() == list(color)
    assert out.img[32, 32].tolist() == [255, 255, 255]
    pad_rows = (out.img == np.array(color)).all(axis=(1, 2))
    assert int(pad_rows.sum()) == 32


def test_icevision_style_value_padding_is_refused():
    pad = functools.partial(albumentations.PadIfNeeded, border_mode=0, value=[124, 116, 104])
    with pytest.raises(ValueError, match="use `fill=`"):
        A.aug_tfms(64, pad=pad)


# -- boxes and labels ----------------------------------------------------------------------
@pytest.mark.parametrize(
    "transform,expected_boxes,kept",
    [
        # crop the left 50 px: box 0 kept whole, box 1 (60..90) outside -> dropped with its label
        (albumentations.Crop(0, 0, 50, 60), [(10, 10, 30, 20)], [0]),
        # crop x 20..100: box 0 clipped to 0..10, box 1 shifted
        (albumentations.Crop(20, 0, 100, 60), [(0, 10, 10, 20), (40, 30, 70, 55)], [0, 1]),
        # shift right by 50 px: box 0 -> 60..80, box 1 (110..140) pushed out -> dropped
        (albumentations.Affine(translate_px={"x": 50, "y": 0}, border_mode=0, p=1.0),
         [(60, 10, 80, 20)], [0]),
        # flip: both boxes mirrored, order kept
        (albumentations.HorizontalFlip(p=1.0), [(70, 10, 90, 20), (10, 30, 40, 55)], [0, 1]),
    ],
)
def test_boxes_follow_and_lists_stay_aligned(transform, expected_boxes, kept):
    record = _record()
    out = A.Adapter([transform])(record)
    np.testing.assert_allclose([b.xyxy for b in out.bboxes], expected_boxes, atol=1e-3)
    assert out.labels == [record.labels[i] for i in kept]
    assert out.label_ids == [record.label_ids[i] for i in kept]
    assert out.iscrowds == [record.iscrowds[i] for i in kept]
    assert len(out.areas) == len(kept)
    assert out.areas[0] == pytest.approx(out.bboxes[0].area, rel=1e-4)  # scaled with the box
    assert (out.width, out.height) == (out.img.shape[1], out.img.shape[0])


def test_record_is_not_mutated_and_holds_no_pixels(tmp_path):
    from PIL import Image

    path = tmp_path / "img.png"
    Image.fromarray(np.full((60, 100, 3), 80, np.uint8)).save(path)
    record = _record(filepath=path)
    before = copy.deepcopy(record)
    out = A.Adapter([*A.aug_tfms(64, presize=80), A.Normalize()])(record)
    assert record == before
    assert record.img is None
    assert out.img.shape == (64, 64, 3) and out.img.dtype == np.float32
    assert (record.width, record.height) == (100, 60)


def test_label_ids_are_ints_and_boxes_never_multiply():
    record = _record()
    adapter = A.Adapter(A.aug_tfms(64, presize=80))
    adapter.seed(0)
    counts = []
    for _ in range(20):
        out = adapter(record)
        assert all(type(i) is int for i in out.label_ids)
        assert len(out.bboxes) == len(out.labels) == len(out.label_ids) == len(out.iscrowds)
        for box in out.bboxes:
            assert 0 <= box.xmin < box.xmax <= 64 and 0 <= box.ymin < box.ymax <= 64
        counts.append(len(out.bboxes))
    assert max(counts) <= 2  # a reflect border would add mirrored copies


def test_negative_record_passes_through_augmentation():
    out = A.Adapter(A.aug_tfms(64, presize=80))(_record(boxes=()))
    assert out.img.shape == (64, 64, 3)
    assert out.bboxes == [] and out.labels == [] and out.label_ids == []


def test_seeded_adapter_repeats_and_survives_pickling():
    record = _record()
    adapter = A.Adapter(A.aug_tfms(64, presize=80))
    adapter.seed(3)
    first = adapter(record)
    clone = pickle.loads(pickle.dumps(adapter))
    clone.seed(3)
    again = clone(record)
    np.testing.assert_array_equal(first.img, again.img)
    assert first.bboxes == again.bboxes


# -- Normalize ------------------------------------------------------------------------------
@pytest.mark.parametrize("mean,std", [(A.IMAGENET_MEAN, A.IMAGENET_STD), (0.5, 0.5)])
def test_normalize_matches_albumentations(mean, std):
    img = np.random.default_rng(0).integers(0, 256, (16, 24, 3), dtype=np.uint8)
    ours = A.Normalize(mean=mean, std=std)(image=img)["image"]
    theirs = albumentations.Normalize(mean=mean, std=std)(image=img)["image"]
    assert ours.dtype == np.float32 and ours.shape == (16, 24, 3)
    np.testing.assert_allclose(ours, theirs, atol=1e-5)
    as_float = A.Normalize(mean=mean, std=std)(image=img.astype(np.float32))["image"]
    np.testing.assert_allclose(as_float, theirs, atol=1e-5)


# -- geometry of inference pipelines ---------------------------------------------------------
@pytest.mark.parametrize(
    "w,h,size,scale,offset",
    [
        (640, 480, 384, 0.6, (0.0, 48.0)),
        (480, 640, 384, 0.6, (48.0, 0.0)),
        (100, 37, 64, 0.64, (0.0, 20.0)),  # 37 * 0.64 = 23.68 -> 24 rows, pad 20 above
        (320, 240, (128, 256), 128 / 240, (42.0, 0.0)),  # (h, w): 171 px wide, pad 42 + 43
    ],
)
def test_geometry_inverts_resize_and_pad(w, h, size, scale, offset):
    adapter = A.Adapter([*A.resize_and_pad(size), A.Normalize()])
    g = tfms.geometry(adapter, w, h)
    out_h, out_w = (size, size) if isinstance(size, int) else size
    assert (g.width, g.height) == (out_w, out_h)
    # the scale is the true pixel scale of the resized image (whole pixels, so exact)
    assert g.scale_x * w == round(w * scale) and g.scale_y * h == round(h * scale)
    assert (g.offset_x, g.offset_y) == offset
    rng = np.random.default_rng(1)
    xy = np.sort(rng.uniform(0, 1, (5, 2, 2)), axis=1) * [w, h]
    boxes = xy.reshape(5, 4)  # x1, y1, x2, y2
    record = _record(w=w, h=h, boxes=[tuple(b) for b in boxes])
    out = adapter(record)
    np.testing.assert_allclose(g.to_transformed(boxes), [b.xyxy for b in out.bboxes], atol=2e-3)
    back = g.to_original(np.array([b.xyxy for b in out.bboxes]))
    np.testing.assert_allclose(back, boxes, atol=2e-3)  # albumentations keeps boxes in float32
    np.testing.assert_allclose(g.to_original(g.to_transformed(boxes)), boxes, atol=1e-9)


@pytest.mark.parametrize(
    "pipeline",
    [
        [albumentations.Resize(50, 120)],
        [albumentations.SmallestMaxSize(max_size=48)],
        [albumentations.LongestMaxSize(max_size_hw=(64, None))],
        [albumentations.SmallestMaxSize(max_size_hw=(40, 90))],
        [albumentations.PadIfNeeded(200, 150, position="bottom_right", border_mode=0)],
        [albumentations.PadIfNeeded(None, None, pad_height_divisor=32, pad_width_divisor=48,
                                    border_mode=0)],
        [albumentations.LongestMaxSize(max_size=80), A.Normalize(),
         albumentations.PadIfNeeded(96, 96, position="top_left", border_mode=0),
         albumentations.Resize(64, 64)],
    ],
    ids=["resize", "smallest", "longest-h", "smallest-hw", "pad-corner", "pad-divisor", "chain"],
)
@pytest.mark.parametrize("w,h", [(100, 60), (37, 141), (333, 61)])
def test_geometry_from_declared_sizes_matches_what_the_transform_does(pipeline, w, h):
    """geometry()'s size, scale and offset equal the transformed image's."""
    adapter = A.Adapter(pipeline)
    g = tfms.geometry(adapter, w, h)
    assert (g.src_width, g.src_height) == (g.source.width, g.source.height) == (w, h)
    boxes = np.array([[0.0, 0.0, w, h], [w / 4, h / 3, w / 2, h * 0.9]])
    out = adapter(_record(w=w, h=h, boxes=[tuple(b) for b in boxes]))
    assert (out.height, out.width) == out.img.shape[:2] == (g.height, g.width)
    np.testing.assert_allclose(g.to_transformed(boxes), [b.xyxy for b in out.bboxes], atol=2e-3)


def test_geometry_refuses_random_pipelines():
    with pytest.raises(UsageError, match="deterministic resize/pad pipeline"):
        tfms.geometry(A.Adapter(A.aug_tfms(64)), 100, 60)
    with pytest.raises(ValueError, match="flips or rotates"):
        tfms.geometry(A.Adapter([albumentations.HorizontalFlip(p=1.0)]), 100, 60)
    with pytest.raises(ValueError, match=r"LongestMaxSize\(p=0.5\) is applied at random"):
        tfms.geometry(A.Adapter([albumentations.LongestMaxSize(max_size=64, p=0.5)]), 100, 60)


# -- geometry recorded when the sample is transformed ------------------------------------------
# The rule this library used to re-derive from albumentations' parameters (its rounding and
# centring), kept here as a fixed reference: the geometry the Adapter now records from what
# albumentations reports must equal it exactly, so predictions did not move.
def _reference_resized(t, w, h):
    if isinstance(t, albumentations.Resize):
        return int(t.width), int(t.height)
    longest = isinstance(t, albumentations.LongestMaxSize)
    if t.max_size is not None:
        scale = t.max_size / (max(h, w) if longest else min(h, w))
    else:
        max_h, max_w = t.max_size_hw
        if max_h is not None and max_w is not None:
            scale = (min if longest else max)(max_h / h, max_w / w)
        else:
            scale = max_h / h if max_h is not None else max_w / w
    return max(1, round(w * scale)), max(1, round(h * scale))


def _reference_padding(current, min_size, divisor):
    if min_size is not None:
        if current < min_size:
            before = int((min_size - current) / 2.0)
            return before, min_size - current - before
    elif divisor is not None and current % divisor:
        total = divisor - current % divisor
        return total // 2, total - total // 2
    return 0, 0


def _reference_geometry(transforms, w, h):
    corners = {"center": None, "top_left": (0, 0), "top_right": (0, 1), "bottom_left": (1, 0),
               "bottom_right": (1, 1)}
    sx = sy = 1.0
    ox = oy = 0.0
    size = (w, h)
    for t in transforms:
        if isinstance(t, albumentations.ImageOnlyTransform):
            continue
        if isinstance(t, albumentations.PadIfNeeded):
            top, bottom = _reference_padding(size[1], t.min_height, t.pad_height_divisor)
            left, right = _reference_padding(size[0], t.min_width, t.pad_width_divisor)
            corner = corners[t.position]
            new = (size[0] + left + right, size[1] + top + bottom)
            if corner is not None:
                top, left = corner[0] * (top + bottom), corner[1] * (left + right)
            step = (1.0, 1.0, float(left), float(top))
        else:
            new = _reference_resized(t, *size)
            step = (new[0] / size[0], new[1] / size[1], 0.0, 0.0)
        sx, sy = sx * step[0], sy * step[1]
        ox, oy = ox * step[0] + step[2], oy * step[1] + step[3]
        size = new
    return Geometry(sx, sy, ox, oy, size=ImgSize(*size), source=ImgSize(w, h))


ODD_SIZES = [(333, 500), (500, 333), (1, 1000), (1000, 1), (257, 129), (129, 257), (384, 384)]
PIPELINES = {
    "resize_and_pad": lambda: [*A.resize_and_pad(384), A.Normalize()],
    "resize_and_pad_hw": lambda: A.resize_and_pad((128, 256)),
    "smallest": lambda: [albumentations.SmallestMaxSize(max_size=100)],
    "chain": lambda: [albumentations.LongestMaxSize(max_size=80), A.Normalize(),
                      albumentations.PadIfNeeded(96, 96, position="top_left", border_mode=0),
                      albumentations.Resize(64, 64)],
    "divisor": lambda: [albumentations.PadIfNeeded(None, None, pad_height_divisor=32,
                                                   pad_width_divisor=48, border_mode=0)],
}


@pytest.mark.parametrize("pipeline", sorted(PIPELINES))
@pytest.mark.parametrize("w,h", ODD_SIZES)
def test_recorded_geometry_round_trips_boxes(pipeline, w, h):
    """Each sample carries the geometry its transform applied: equal to the old rule's, boxes
    mapped forward by the real transform come back through it to < 1e-3 px."""
    transforms = PIPELINES[pipeline]()
    adapter = A.Adapter(transforms)
    boxes = np.array([[0.0, 0.0, w, h], [w / 4, h / 3, w / 2, h * 0.9], [w * 0.6, 0, w, h / 2]])
    sample = adapter(_record(w=w, h=h, boxes=[tuple(b) for b in boxes]))
    g = sample.geometry
    assert g == _reference_geometry(transforms, w, h)  # exactly: predictions unchanged
    assert (g.width, g.height) == (sample.width, sample.height) == sample.img.shape[1::-1]
    assert (g.src_width, g.src_height) == (w, h)
    assert tfms.geometry(adapter, w, h) == g  # the public function gives the same record
    moved = np.array([b.xyxy for b in sample.bboxes])
    assert len(moved) == len(boxes)
    np.testing.assert_allclose(g.to_transformed(boxes), moved, atol=2e-3)
    # albumentations keeps boxes as float32 fractions of the image: 1e-3 px after mapping back
    np.testing.assert_allclose(g.to_original(moved), boxes, atol=1e-3)
    np.testing.assert_allclose(g.to_original(g.to_transformed(boxes)), boxes, atol=1e-9)


@pytest.mark.parametrize("transforms", [
    [albumentations.HorizontalFlip(p=1.0)],
    A.aug_tfms(64),
    [albumentations.OneOrOther(albumentations.Resize(32, 32), albumentations.Resize(16, 16))],
], ids=["flip", "aug_tfms", "container"])
def test_no_geometry_recorded_for_moves_that_are_not_a_scale_and_offset(transforms):
    sample = A.Adapter(transforms)(_record())
    assert sample.geometry is None


def test_recorded_geometry_composes_over_an_earlier_transform():
    first, second = A.Adapter(A.resize_and_pad(64)), A.Adapter(A.resize_and_pad(32))
    sample = second(first(_record(w=100, h=60)))
    g = sample.geometry
    assert (g.src_width, g.src_height, g.width, g.height) == (100, 60, 32, 32)
    assert (g.scale_x, g.offset_y) == (0.32, 6.5)  # 38 rows padded 13 above, then halved
    box = np.array([[10.0, 10.0, 30.0, 20.0]])
    np.testing.assert_allclose(g.to_original(g.to_transformed(box)), box, atol=1e-9)


def test_dataset_records_the_resize_fix_so_predictions_map_to_the_annotation(tmp_path):
    """The file is twice the size the annotation states: the sample's geometry goes from the
    annotated size, through the fix, through the transform."""
    from PIL import Image

    from efficientdet_adapter import Dataset

    path = tmp_path / "big.png"
    Image.fromarray(np.zeros((120, 200, 3), np.uint8)).save(path)
    record = _record(w=100, h=60, filepath=path)
    sample = Dataset([record], A.Adapter(A.resize_and_pad(64)))[0]
    g = sample.geometry
    assert (g.src_width, g.src_height, g.width, g.height) == (100, 60, 64, 64)
    np.testing.assert_allclose([g.scale_x, g.scale_y, g.offset_x, g.offset_y],
                               [0.64, 38 / 60, 0.0, 13.0], rtol=1e-12)  # 120 rows -> 38
    np.testing.assert_allclose(g.to_original([b.xyxy for b in sample.bboxes]),
                               [b.xyxy for b in record.bboxes], atol=1e-3)


def test_scale_preset_jitters_the_object_size_and_keeps_boxes_inside(tmp_path):
    """``aug_preset(size, "scale")``: every sample is ``size`` square, its boxes lie inside it,
    and a box's size varies over samples within SCALE_JITTER of the plain resize's."""
    from PIL import Image

    path = tmp_path / "a.jpg"
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (300, 400, 3), np.uint8)).save(path)
    rec = _record(w=400, h=300, boxes=((150, 100, 250, 200),), img=None, filepath=path)
    adapter = A.Adapter(A.aug_preset(128, "scale"))
    widths = []
    for _ in range(60):
        out = adapter(rec)
        assert out.img.shape == (128, 128, 3) and (out.width, out.height) == (128, 128)
        for box in out.bboxes:
            assert 0 <= box.xmin < box.xmax <= 128 and 0 <= box.ymin < box.ymax <= 128
        if out.bboxes and out.bboxes[0].xmin > 0 and out.bboxes[0].xmax < 128:  # not cut
            widths.append(out.bboxes[0].width)
    plain = 100 * 128 / 400  # the box's width after the longest side goes to 128
    low, high = A.SCALE_JITTER
    assert min(widths) < 0.9 * plain and max(widths) > 1.1 * plain  # it does jitter
    assert low * plain - 1 <= min(widths) and max(widths) <= high * plain + 1
    assert "scale" in A.AUG_PRESETS
