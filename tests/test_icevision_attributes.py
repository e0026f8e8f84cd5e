"""The public attributes IceVision 0.12's users read on Adapter, Dataset, Record, BBox and
ClassMap (listed from its source: tfms/albumentations/albumentations_adapter.py, data/dataset.py,
core/record.py + record_components.py, core/bbox.py, core/class_map.py)."""

from __future__ import annotations

import albumentations as albu
import numpy as np
import pytest
import torch
from PIL import Image

from efficientdet_adapter import BBox, ClassMap, Record, tfms
from efficientdet_adapter.records.dataset import Dataset
from efficientdet_adapter.base.errors import ClassMapError


def test_adapter_keeps_tfms_list_and_create_tfms():
    flip, norm = albu.HorizontalFlip(p=1.0), tfms.A.Normalize()
    adapter = tfms.A.Adapter([flip, norm])
    assert adapter.tfms_list == [flip, norm] and adapter.tfms_list[0] is flip
    composed = adapter.create_tfms()
    assert isinstance(composed, albu.Compose) and list(composed.transforms) == [flip, norm]
    # IceVision's tests read the resize size out of the list
    valid = tfms.A.Adapter([*tfms.A.resize_and_pad(128), tfms.A.Normalize()])
    assert [type(t).__name__ for t in valid.tfms_list] == ["LongestMaxSize", "PadIfNeeded",
                                                           "Normalize"]


def test_dataset_records_tfm_and_from_images():
    tfm = tfms.A.Adapter([*tfms.A.resize_and_pad(64), tfms.A.Normalize()])
    ds = Dataset.from_images([np.zeros((30, 40, 3), np.uint8)], tfm, class_map=ClassMap(["a"]))
    assert ds.tfm is tfm and len(ds.records) == 1 and ds.records[0].record_id == 0
    assert repr(ds).startswith("<Dataset: 1 records")
    assert ds[0].img.shape[:2] == (64, 64)


def test_record_reads_and_builds_as_icevision():
    cm = ClassMap(["cat", "dog"])
    r = Record(record_id=None, filepath=None, width=0, height=0)
    r.set_record_id(7)
    r.set_img(Image.new("RGB", (40, 30)))
    assert (r.width, r.height) == (40, 30) and r.img.shape == (30, 40, 3)
    r.set_class_map(cm)
    r.set_bboxes([BBox.from_xyxy(1, 2, 10, 12)])
    r.set_labels_by_id([2])
    r.add_labels_by_id([1])
    assert r.labels == ["dog", "cat"] and r.detection.label_ids == [2, 1]
    r.set_image_size(50, 60)
    assert r.img_size.width == 50 and r.img_size.height == 60
    r.set_areas([81.0, 4.0])
    r.set_iscrowds([0, 1])
    assert r.num_annotations() == {"detection": {"labels": 2, "bboxes": 1, "iscrowds": 2,
                                                 "areas": 2}}
    d = r.as_dict()
    assert d["common"]["record_id"] == 7 and d["detection"]["labels"] == ["dog", "cat"]
    assert d["detection"]["class_map"] is cm and d["detection"]["iscrowds"] == [False, True]


def test_record_load_returns_a_loaded_copy(tmp_path):
    Image.new("RGB", (20, 10), (255, 0, 0)).save(tmp_path / "a.png")
    r = Record(0, tmp_path / "a.png", 20, 10)
    loaded = r.load()
    assert r.img is None and loaded.img.shape == (10, 20, 3) and loaded.img[0, 0, 0] == 255
    loaded.unload()
    assert loaded.img is None


def test_bbox_to_tensor_and_icevision_properties():
    box = BBox.from_xywh(1, 2, 3, 4)
    t = box.to_tensor()
    assert t.dtype == torch.float32 and t.tolist() == [1.0, 2.0, 4.0, 6.0]
    assert (box.width, box.height, box.area) == (3, 4, 12)
    assert box.xyxy == (1, 2, 4, 6) and box.yxyx == (2, 1, 6, 4) and box.xywh == (1, 2, 3, 4)


def test_class_map_num_classes_lock_unlock():
    cm = ClassMap(["cat"])
    assert cm.num_classes == 2 == len(cm)
    with pytest.raises(ClassMapError, match="'dog' is not in the class map"):
        cm.get_by_name("dog")  # locked by default, as IceVision's
    assert cm.unlock() is cm and cm.get_by_name("dog") == 2 and cm.num_classes == 3
    cm.lock()
    with pytest.raises(ClassMapError):
        cm.get_by_name("bird")
    assert cm.get_classes() == ["background", "cat", "dog"]
    assert cm == ClassMap(["cat", "dog"])  # the lock is not part of equality


@pytest.mark.parametrize(
    "cls, names",
    [
        ("Adapter", ["tfms_list", "create_tfms"]),
        ("Dataset", ["records", "tfm", "from_images"]),
        ("Record", ["record_id", "filepath", "img", "width", "height", "img_size", "detection",
                    "as_dict", "num_annotations", "load", "unload", "set_record_id", "set_img",
                    "set_filepath", "set_img_size", "set_image_size", "set_class_map",
                    "set_labels", "add_labels", "set_labels_by_id", "add_labels_by_id",
                    "set_bboxes", "add_bboxes", "set_areas", "add_areas", "set_iscrowds",
                    "add_iscrowds"]),
        ("BBox", ["xmin", "ymin", "xmax", "ymax", "width", "height", "area", "to_tensor",
                  "autofix", "xyxy", "yxyx", "xywh", "relative_xcycwh", "from_xywh",
                  "from_xyxy", "from_relative_xcycwh"]),
        ("ClassMap", ["num_classes", "get_classes", "get_by_id", "get_by_name", "add_name",
                      "lock", "unlock"]),
    ],
)
def test_icevision_public_attributes_exist(cls, names):
    objects = {
        "Adapter": tfms.A.Adapter([tfms.A.Normalize()]),
        "Dataset": Dataset([], None),
        "Record": Record(0, None, 8, 8),
        "BBox": BBox.from_xyxy(0, 0, 1, 1),
        "ClassMap": ClassMap(["a"]),
    }
    missing = [n for n in names if not hasattr(objects[cls], n)]
    assert missing == []
