"""Dataset: transformed copies of records, raw images for inference, safe in worker processes."""

from __future__ import annotations

import copy
import pickle

import albumentations
import numpy as np
import pytest
import torch
from PIL import Image

from efficientdet_adapter import BBox, ClassMap, ImageLoadError, Record
from efficientdet_adapter.records.dataset import Dataset
from efficientdet_adapter.tfms import A


def _write(tmp_path, name, arr, **kw):
    path = tmp_path / name
    Image.fromarray(arr).save(path, **kw)
    return path


def _records(tmp_path, n=4, w=80, h=60):
    records = []
    for i in range(n):
        path = _write(tmp_path, f"{i}.png", np.full((h, w, 3), 40 * i, np.uint8))
        records.append(
            Record(record_id=i, filepath=path, width=w, height=h, labels=["cat"], label_ids=[1],
                   bboxes=[BBox.from_xyxy(10, 10, 50, 40)])
        )
    return records


def _identity(batch):
    return batch


def test_items_are_loaded_copies_without_tfm(tmp_path):
    records = _records(tmp_path)
    before = copy.deepcopy(records)
    ds = Dataset(records)
    assert len(ds) == 4
    item = ds[2]
    assert item.img.shape == (60, 80, 3) and item.img.dtype == np.uint8
    assert int(item.img[0, 0, 0]) == 80
    assert item == records[2] and item is not records[2]
    assert records == before and all(r.img is None for r in records)


@pytest.mark.parametrize(
    "tfms,dtype", [([*A.resize_and_pad(64)], np.uint8), ([*A.resize_and_pad(64), A.Normalize()], np.float32)]
)
def test_items_are_transformed(tmp_path, tfms, dtype):
    ds = Dataset(_records(tmp_path), A.Adapter(tfms))
    item = ds[1]
    assert item.img.shape == (64, 64, 3) and item.img.dtype == dtype
    assert (item.width, item.height) == (64, 64)
    np.testing.assert_allclose(item.bboxes[0].xyxy, (8, 8 + 8, 40, 32 + 8), atol=1e-3)  # 0.8x, pad 8
    assert ds.records[1].img is None


def test_from_images_arrays_and_files(tmp_path):
    photo = _write(tmp_path, "rot.jpg", np.zeros((20, 30, 3), np.uint8), exif=_exif(6))
    gray = np.arange(12, dtype=np.uint16).reshape(3, 4) * 5000
    rgba = np.zeros((5, 6, 4), np.uint8)
    cm = ClassMap(["cat"])
    ds = Dataset.from_images([photo, gray, rgba], class_map=cm)
    assert [(r.width, r.height) for r in ds.records] == [(20, 30), (4, 3), (6, 5)]
    assert ds.records[0].class_map is cm and ds.records[0].img is None
    shapes = [ds[i].img.shape for i in range(3)]
    assert shapes == [(30, 20, 3), (3, 4, 3), (5, 6, 3)]
    assert ds[1].img[2, 3].tolist() == [round(55000 * 255 / 65535)] * 3  # dtype range
    assert ds[2].img[0, 0].tolist() == [255] * 3  # transparent -> white
    resized = Dataset.from_images([photo], tfm=A.Adapter(A.resize_and_pad(32)))
    assert resized[0].img.shape == (32, 32, 3)


def _exif(orientation):
    exif = Image.new("RGB", (1, 1)).getexif()
    exif[0x0112] = orientation
    return exif


def test_pickles_without_pixels(tmp_path):
    ds = Dataset(_records(tmp_path), A.Adapter(A.aug_tfms(64, presize=72)))
    size_before = len(pickle.dumps(ds))
    [ds[i] for i in range(4)]
    blob = pickle.dumps(ds)
    assert abs(len(blob) - size_before) < 2_000  # no pixels cached (one image is 14 kB)
    clone = pickle.loads(blob)
    assert len(clone) == 4 and clone[3].img.shape == (64, 64, 3)


@pytest.mark.parametrize("reseed", [True, False])
def test_workers_draw_different_augmentations(tmp_path, monkeypatch, reseed):
    """Forked workers inherit one generator state; the Adapter reseeds per worker."""
    if not reseed:  # proves the test can fail: without reseeding both workers repeat each other
        monkeypatch.setattr(A.Adapter, "_reseed_if_forked", lambda self: None)
    ramp = np.repeat(np.arange(256, dtype=np.uint8)[None, :, None], 3, axis=2).repeat(4, axis=0)
    records = [Record(record_id=i, filepath=None, width=256, height=4, img=ramp) for i in range(4)]
    tfm = A.Adapter([albumentations.RandomBrightnessContrast(p=1.0)])
    dl = torch.utils.data.DataLoader(
        Dataset(records, tfm), batch_size=1, num_workers=2, collate_fn=_identity,
        multiprocessing_context="fork",
    )
    items = [batch[0] for batch in dl]  # items 0 and 1 are the first of workers 0 and 1
    assert [r.record_id for r in items] == [0, 1, 2, 3]
    same = np.array_equal(items[0].img, items[1].img)
    assert same is (not reseed)


def test_spawned_worker_and_broken_file_error(tmp_path):
    records = _records(tmp_path, n=2)
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    records.append(Record(record_id=9, filepath=broken, width=80, height=60))
    dl = torch.utils.data.DataLoader(
        Dataset(records, A.Adapter([*A.resize_and_pad(32), A.Normalize()])),
        batch_size=1, num_workers=1, collate_fn=_identity, multiprocessing_context="spawn",
    )
    it = iter(dl)
    first = next(it)[0]
    assert first.img.shape == (32, 32, 3) and first.img.dtype == np.float32
    next(it)
    with pytest.raises(ImageLoadError, match="broken.jpg"):
        next(it)
