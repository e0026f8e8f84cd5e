"""Batches and DataLoaders for EfficientDet (efficientdet.dataloaders)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from efficientdet_adapter import ArgumentError, BatchError, BBox, ClassMap, Record
from efficientdet_adapter.loop.dataloaders import (
    build_infer_batch,
    build_train_batch,
    build_valid_batch,
    infer_dl,
    make_anchor_labeler,
    train_dl,
    valid_dl,
)

CLASS_MAP = ClassMap(["a", "b", "c"])
SIZE = 128


def make_record(record_id, boxes=(), label_ids=(), width=SIZE, height=SIZE, dtype=np.float32):
    rng = np.random.default_rng(hash(str(record_id)) % 2**32)
    img = rng.standard_normal((height, width, 3))
    if np.issubdtype(dtype, np.integer):
        img = rng.integers(0, 256, (height, width, 3))
    return Record(
        record_id=record_id,
        filepath=None,
        width=width,
        height=height,
        labels=[CLASS_MAP.get_by_id(i) for i in label_ids],
        label_ids=list(label_ids),
        bboxes=[BBox.from_xyxy(*b) for b in boxes],
        img=img.astype(dtype),
        class_map=CLASS_MAP,
    )


def sample_records(n=4):
    """Records with 0..3 boxes each (record 0 is a negative)."""
    return [
        make_record(i, [(4 * k, 5 * k, 4 * k + 30, 5 * k + 40) for k in range(i % 4)],
                    [1 + k % 3 for k in range(i % 4)])
        for i in range(n)
    ]


# -- batch builders -------------------------------------------------------------------------
def test_train_batch_layout():
    recs = sample_records(4)
    (images, targets), batch_recs = build_train_batch(recs)
    assert images.dtype == torch.float32 and images.shape == (4, 3, SIZE, SIZE)
    assert images.is_contiguous()
    for i, r in enumerate(recs):
        np.testing.assert_array_equal(images[i].permute(1, 2, 0).numpy(), r.img)
        assert targets["bbox"][i].tolist() == [list(b.yxyx) for b in r.bboxes]
        assert targets["cls"][i].tolist() == [float(x) for x in r.label_ids]
    assert [t.shape for t in targets["bbox"]] == [(i % 4, 4) for i in range(4)]
    assert set(targets) == {"bbox", "cls"}
    # the records come back with their annotations, their pixels being in `images`
    assert batch_recs == recs and all(r.img is None for r in batch_recs)
    assert all(r.img is not None for r in recs)  # the dataset's records are untouched


def test_valid_batch_adds_img_size_and_scale():
    recs = [make_record(i, width=96, height=64) for i in range(3)]
    (images, targets), _ = build_valid_batch(recs)  # IceVision's: None, detections unclipped
    assert targets["img_size"] is None and targets["img_scale"] is None
    (images, targets), _ = build_valid_batch(recs, clip_to_image=True)
    assert images.shape == (3, 3, 64, 96)
    assert targets["img_size"].tolist() == [[96.0, 64.0]] * 3  # (W, H)
    assert targets["img_scale"].tolist() == [1.0] * 3
    assert set(targets) == {"bbox", "cls", "img_size", "img_scale"}


@pytest.mark.parametrize("as_arrays", [False, True])
def test_infer_batch_from_records_or_images(as_arrays):
    recs = [make_record(f"r{i}", width=80, height=48) for i in range(2)]
    items = [r.img for r in recs] if as_arrays else recs
    (images, info), batch_recs = build_infer_batch(items)
    assert images.shape == (2, 3, 48, 80)
    assert info["img_size"].tolist() == [[80.0, 48.0]] * 2
    assert info["img_scale"].tolist() == [1.0, 1.0]
    assert [r.record_id for r in batch_recs] == ([0, 1] if as_arrays else ["r0", "r1"])
    np.testing.assert_array_equal(images[1].permute(1, 2, 0).numpy(), recs[1].img)


def test_float64_images_become_float32():
    recs = [make_record(i, dtype=np.float64) for i in range(2)]
    (images, _), _ = build_train_batch(recs)
    assert images.dtype == torch.float32
    np.testing.assert_allclose(images[0].permute(1, 2, 0).numpy(), recs[0].img, rtol=1e-6)


def _bad(case):
    good = make_record("ok.jpg")
    if case == "uint8":
        return [good, make_record("raw", dtype=np.uint8)]
    if case == "sizes":
        return [good, make_record("small", width=64, height=SIZE)]
    if case == "no_img":
        r = make_record("noimg")
        r.img = None
        return [r]
    if case == "gray":
        r = make_record("gray")
        r.img = r.img[..., 0]
        return [r]
    if case == "stale_size":
        r = make_record("stale")
        r.width = 200
        return [r]
    return []


@pytest.mark.parametrize(
    "case, message",
    [
        ("uint8", "record 'raw': the image is uint8 (raw pixels), but the model needs normalized "
                  "float images; add tfms.A.Normalize()"),
        ("sizes", "record 'ok.jpg' is 128x128 and record 'small' is 64x128 (WxH); add "
                  "tfms.A.resize_and_pad(size)"),
        ("no_img", "record 'noimg' has no image (img is None)"),
        ("gray", "record 'gray': expected an HxWx3 image, got an array of shape (128, 128)"),
        ("stale_size", "record 'stale': the record says 200x128 (WxH) but its image is 128x128"),
        ("empty", "cannot build a batch from 0 records"),
    ],
)
@pytest.mark.parametrize("builder", [build_train_batch, build_valid_batch, build_infer_batch])
def test_batch_errors_say_what_to_do(case, message, builder):
    with pytest.raises(BatchError) as e:
        builder(_bad(case), uint8="refuse")  # the library's check (IceVision's default scales)
    assert message in str(e.value)


class FlipLabels:
    """An IceVision-style batch transform (object with ``batch_tfm``)."""

    def batch_tfm(self, records):
        return [r.copy(label_ids=[4 - i for i in r.label_ids]) for r in records]


def reverse(records):
    return records[::-1]


@pytest.mark.parametrize(
    "batch_tfms, expected_ids, expected_cls",
    [(reverse, [2, 1], [[1.0, 2.0], [1.0]]), (FlipLabels(), [1, 2], [[3.0], [3.0, 2.0]])],
)
def test_batch_tfms_run_first(batch_tfms, expected_ids, expected_cls):
    recs = sample_records(3)[1:]
    (_, targets), out = build_train_batch(recs, batch_tfms)
    assert [r.record_id for r in out] == expected_ids
    assert [t.tolist() for t in targets["cls"]] == expected_cls


# -- DataLoaders ----------------------------------------------------------------------------
@pytest.mark.parametrize(
    "make_dl, keys, context",
    [
        # spawn is the strictest start method: the collate function and records must pickle
        (train_dl, {"bbox", "cls"}, "spawn"),
        (valid_dl, {"bbox", "cls", "img_size", "img_scale"}, "fork"),
        (infer_dl, {"img_size", "img_scale"}, "fork"),
    ],
)
@pytest.mark.filterwarnings("ignore:'pin_memory' argument is set as true but no accelerator")
def test_loaders_with_two_workers_pin_memory_and_persistent_workers(make_dl, keys, context):
    recs = sample_records(6)
    dl = make_dl(
        recs, batch_size=4, num_workers=2, pin_memory=True, persistent_workers=True,
        multiprocessing_context=context,
    )
    for _epoch in range(2):
        batches = list(dl)
        assert [len(b[1]) for b in batches] == [4, 2]
        (images, targets), batch_recs = batches[1]
        assert set(targets) == keys
        assert images.shape == (2, 3, SIZE, SIZE)
        assert [r.record_id for r in batch_recs] == [4, 5]
        np.testing.assert_array_equal(images[1].permute(1, 2, 0).numpy(), recs[5].img)
        if "cls" in targets:
            assert [t.tolist() for t in targets["cls"]] == [recs[4].label_ids, recs[5].label_ids]
            assert targets["bbox"][1].tolist() == [list(b.yxyx) for b in recs[5].bboxes]


def test_loader_refuses_a_collate_fn():
    with pytest.raises(TypeError, match="pass batch_tfms="):
        train_dl(sample_records(2), collate_fn=list)


# -- anchor labeling in the workers ----------------------------------------------------------
def test_make_anchor_labeler_accepts_model_config_or_labeler(bench):
    from effdet.anchors import AnchorLabeler

    from_model = make_anchor_labeler(bench)
    from_config = make_anchor_labeler(bench.config)
    assert make_anchor_labeler(from_model) is from_model
    for labeler in (from_model, from_config):
        assert isinstance(labeler, AnchorLabeler) and labeler.match_threshold == 0.5
        assert torch.equal(labeler.anchors.boxes, bench.anchors.boxes)
    with pytest.raises(TypeError, match="needs an effdet model, bench, config or AnchorLabeler"):
        make_anchor_labeler("tf_efficientdet_lite0")


@pytest.mark.parametrize("num_workers", [0, 2])
def test_precomputed_anchor_labels_give_identical_losses(bench, num_workers):
    from effdet import DetBenchTrain

    precomputed_bench = DetBenchTrain(bench.model, create_labeler=False).eval()
    recs = sample_records(4)
    dl = valid_dl(recs, batch_size=4, num_workers=num_workers, anchor_labeler=bench)
    (images, targets), _ = next(iter(dl))
    levels = bench.num_levels
    assert {f"label_cls_{lvl}" for lvl in range(levels)} <= set(targets)
    assert targets["label_num_positives"].shape == (4,)
    assert targets["label_num_positives"][0] == 0 and (targets["label_num_positives"][1:] > 0).all()
    assert targets["label_cls_0"].dtype == torch.int64
    (images_plain, targets_plain), _ = build_valid_batch(recs)
    assert torch.equal(images, images_plain)
    with torch.no_grad():
        with_labels = precomputed_bench(images, targets)
        in_forward = bench(images_plain, targets_plain)
    for key in ("loss", "class_loss", "box_loss", "detections"):
        assert torch.equal(with_labels[key], in_forward[key]), key


def test_anchor_labeler_checks_the_image_size(bench):
    recs = [make_record(0, width=256, height=256)]
    message = r"labeler is for 128x128 \(WxH\) images but the batch is 256x256"
    with pytest.raises(BatchError, match=message):
        build_train_batch(recs, anchor_labeler=make_anchor_labeler(bench))


# -- the real pipeline: Dataset + tfms + EfficientDetModel -------------------------------------
def raw_records(n=4, width=160, height=120):
    """uint8 records of another size than the model's, as a parser would give (plus pixels)."""
    rng = np.random.default_rng(0)
    recs = []
    for i in range(n):
        boxes = [(10 + 7 * k, 12 + 5 * k, 70 + 9 * k, 90 + 3 * k) for k in range(i % 3)]
        recs.append(Record(
            record_id=i, filepath=None, width=width, height=height,
            labels=[CLASS_MAP.get_by_id(1 + k) for k in range(i % 3)],
            label_ids=[1 + k for k in range(i % 3)],
            bboxes=[BBox.from_xyxy(*b) for b in boxes],
            img=rng.integers(0, 256, (height, width, 3), dtype=np.uint8),
            class_map=CLASS_MAP,
        ))
    return recs


@pytest.fixture(scope="module")
def adapter_model():
    from efficientdet_adapter.model.model import model

    torch.manual_seed(0)
    net = model(model_name="tf_efficientdet_lite0", num_classes=len(CLASS_MAP), img_size=SIZE)
    return net.eval()


def test_dataset_pipeline_with_labels_in_workers_matches_the_model(adapter_model):
    from efficientdet_adapter import tfms
    from efficientdet_adapter.records.dataset import Dataset
    from efficientdet_adapter.model.model import normalize_tfm

    tfm = tfms.A.Adapter([*tfms.A.resize_and_pad(SIZE), normalize_tfm(adapter_model)])
    ds = Dataset(raw_records(), tfm)
    labeled = valid_dl(ds, batch_size=4, num_workers=2, anchor_labeler=adapter_model)
    plain = valid_dl(ds, batch_size=4, num_workers=0, anchor_labeler=None)
    ((images, targets), recs), ((images_p, targets_p), _) = next(iter(labeled)), next(iter(plain))
    assert images.shape == (4, 3, SIZE, SIZE) and torch.equal(images, images_p)
    assert float(images.min()) >= -1.0 and float(images.max()) <= 1.0  # mean = std = 0.5
    # resize_and_pad scales 160x120 by 0.8: boxes follow in yxyx
    assert targets["bbox"][2].shape == (2, 4)
    np.testing.assert_allclose(targets["bbox"][1][0].numpy(), recs[1].bboxes[0].yxyx)
    assert [r.width for r in recs] == [SIZE] * 4
    with torch.no_grad():
        out_labeled, out_plain = adapter_model(images, targets), adapter_model(images_p, targets_p)
    for key in ("loss", "class_loss", "box_loss", "detections"):
        assert torch.equal(out_labeled[key], out_plain[key]), key
    assert make_anchor_labeler(adapter_model.config).anchors.image_size == (SIZE, SIZE)


def test_dataset_without_normalize_is_refused():
    from efficientdet_adapter import tfms
    from efficientdet_adapter.records.dataset import Dataset

    ds = Dataset(raw_records(2), tfms.A.Adapter(tfms.A.resize_and_pad(SIZE)))
    message = r"the image is uint8 \(raw pixels\).*add tfms.A.Normalize"
    with pytest.raises(BatchError, match=message):
        next(iter(train_dl(ds, batch_size=2, uint8="refuse")))


@pytest.mark.parametrize("builder", [build_train_batch, build_valid_batch, build_infer_batch])
def test_uint8_images_are_scaled_as_icevision_did(builder):
    records = _bad("uint8")  # a normalized float image and a uint8 one
    (images, _), _ = builder(records)
    raw = records[1].img
    assert raw.dtype == np.uint8 and images.dtype == torch.float32
    torch.testing.assert_close(images[1], torch.from_numpy(raw).permute(2, 0, 1).float() / 255)
    with pytest.raises(ArgumentError, match=r"uint8='keep' is not one of \['scale', 'refuse'\]"):
        builder(_bad("uint8"), uint8="keep")


# -- show_batch ------------------------------------------------------------------------------
def test_show_batch_draws_the_target_boxes_where_they_are(tmp_path):
    from PIL import Image

    from efficientdet_adapter.loop.dataloaders import show_batch
    from efficientdet_adapter.pictures.draw import color_for

    mean, std = (0.5,) * 3, (0.5,) * 3
    recs = [make_record("neg"), make_record("pos", [(20, 30, 100, 110)], [2])]
    for r in recs:
        r.img = np.full((SIZE, SIZE, 3), -1.0, np.float32)  # black once un-normalized
    batch = build_train_batch(recs)
    path = tmp_path / "batch.png"
    fig = show_batch(batch, ncols=2, mean=mean, std=std, save_path=path, cell_size=3.0)
    png = np.asarray(Image.open(path).convert("RGB"))
    assert png.shape == (300, 600, 3)  # 2 cells of 3 inches at 100 dpi
    ax = fig.axes[1]
    assert ax.get_title() == "pos"
    # the left edge of the box (x = 20 px), halfway down it, in PNG pixel coordinates
    x, y = ax.transData.transform((20 - 0.5, 70))
    row, col = int(round(png.shape[0] - y)), int(round(x))
    patch = png[row - 2 : row + 3, col - 2 : col + 3].reshape(-1, 3).astype(int)
    distances = np.abs(patch - np.array(color_for(2))).sum(axis=1)
    assert distances.min() <= 30  # class 2's colour on the box edge
    inside = png[row, col + 15].astype(int)
    assert inside.max() <= 10  # the black image inside the box
    assert len(fig.axes[0].patches) == 0 and len(ax.patches) == 1
    assert [t.get_text() for t in ax.texts] == ["b"]
