"""Public API arguments are checked at the door: wrong types and ranges are the library's errors,
naming the argument and what to pass (never a deep TypeError, never a string read as letters)."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from efficientdet_adapter.checkpoint import model_from_checkpoint
from efficientdet_adapter.parsers import COCOBBoxParser, VOCBBoxParser
from efficientdet_adapter import efficientdet
from efficientdet_adapter.records.class_map import ClassMap
from efficientdet_adapter.records.dataset import Dataset
from efficientdet_adapter.base.errors import AdapterError, ArgumentError, ClassMapError, ModelConfigError


@pytest.fixture(scope="module")
def model():
    return efficientdet.model(model_name="tf_efficientdet_lite0", num_classes=3, img_size=128,
                              pretrained_backbone=False)


@pytest.fixture
def ds(model, tmp_path):
    Image.fromarray(np.zeros((64, 80, 3), np.uint8)).save(tmp_path / "one.jpg")
    return Dataset.from_images([tmp_path / "one.jpg"], efficientdet.prediction.inference_tfm(model))


@pytest.mark.parametrize("classes,message", [
    ("cats", "ClassMap('cats'): classes is one string; pass a list of class names, e.g. "
             "ClassMap(['cats'])"),
    (5, "ClassMap(5): classes must be a list of class names, not int 5"),
    ([1, 2], "class names must be non-empty strings, got 1"),
])
def test_class_map_of_a_string_or_a_number_is_refused(classes, message):
    with pytest.raises(ClassMapError) as info:
        ClassMap(classes)
    assert str(info.value).startswith(message)


def test_a_single_path_where_a_list_is_expected(tmp_path):
    with pytest.raises(ArgumentError) as info:
        Dataset.from_images(str(tmp_path / "one.jpg"))
    assert str(info.value) == (f"images={str(tmp_path / 'one.jpg')!r} is one path; "
                               "Dataset.from_images takes a list of them: pass "
                               f"[{str(tmp_path / 'one.jpg')!r}]")
    with pytest.raises(ArgumentError, match=r"images=3 \(an int\): pass a list"):
        Dataset.from_images(3)


@pytest.mark.parametrize("kwargs,message", [
    ({"detection_threshold": 5}, "detection_threshold=5 (an int): pass a number between 0 and 1 "
                                 "(a score), e.g. detection_threshold=0.5"),
    ({"detection_threshold": -0.1}, "detection_threshold=-0.1 (a float): pass a number between "
                                    "0 and 1"),
    ({"detection_threshold": float("nan")}, "detection_threshold=nan (a float)"),
    ({"detection_threshold": "0.5"}, "detection_threshold='0.5' (a str)"),
    ({"batch_size": "2"}, "batch_size='2' (a str): pass an int >= 1, e.g. batch_size=2"),
    ({"batch_size": 0}, "batch_size=0 (an int): pass an int >= 1"),
    ({"batch_size": 2.0}, "batch_size=2.0 (a float): pass an int >= 1"),
])
def test_predict_arguments(model, ds, kwargs, message):
    with pytest.raises(ArgumentError) as info:
        efficientdet.predict(model, ds, **kwargs)
    assert str(info.value).startswith(message)
    assert isinstance(info.value, (AdapterError, TypeError))


def test_loaders_and_end2end_arguments(model, ds, tmp_path):
    with pytest.raises(ArgumentError, match=r"^batch_size='2' \(a str\)"):
        efficientdet.infer_dl(ds, batch_size="2")
    with pytest.raises(ArgumentError, match=r"^batch_size=-1 \(an int\)"):
        efficientdet.train_dl(ds, batch_size=-1)
    with pytest.raises(ArgumentError) as info:  # the probe's call, word for word
        efficientdet.train_dl(ds, batch_size="2")
    assert str(info.value) == "batch_size='2' (a str): pass an int >= 1, e.g. batch_size=2"
    with pytest.raises(ArgumentError, match=r"^detection_threshold=2 \(an int\)"):
        efficientdet.predict_from_dl(model, efficientdet.infer_dl(ds, batch_size=1),
                                     detection_threshold=2)
    with pytest.raises(ArgumentError, match=r"^detection_threshold=1.5 \(a float\)"):
        efficientdet.end2end_detect(tmp_path / "one.jpg", None, model, ClassMap(["a", "b"]),
                                    detection_threshold=1.5)
    preds = efficientdet.predict(model, ds, detection_threshold=1.0, batch_size=1)
    assert len(preds) == 1  # the bounds themselves are accepted


@pytest.mark.parametrize("img_size", [-128, 0])
def test_negative_or_zero_sizes(img_size):
    with pytest.raises(ModelConfigError, match="each side must be a positive multiple of 128"):
        efficientdet.model(model_name="tf_efficientdet_lite0", num_classes=3, img_size=img_size,
                           pretrained_backbone=False)


@pytest.mark.parametrize("kwargs,message", [
    ({"batch_size": "2"}, "batch_size='2' (a str): pass an int >= 1, e.g. batch_size=2"),
    ({"epochs": 0}, "epochs=0 (an int): pass an int >= 1"),
    ({"num_workers": -1}, "num_workers=-1 (an int): pass an int >= 0"),
    ({"patience": 0}, "patience=0 (an int): pass an int >= 1"),
    ({"lr": "fast"}, "lr='fast': pass a positive number"),
    ({"lr": -1e-3}, "lr=-0.001: pass a positive number"),
])
def test_train_options_are_checked_when_made(kwargs, message):
    from efficientdet_adapter.app.runs import TrainOptions

    with pytest.raises(ArgumentError) as info:
        TrainOptions(**kwargs)
    assert str(info.value).startswith(message)
    assert TrainOptions(batch_size=2, patience=3).batch_size == 2


@pytest.mark.parametrize("make, message", [
    (lambda: COCOBBoxParser(annotations_filepath=123, img_dir="."),
     "annotations_filepath=123 (an int)"),
    (lambda: COCOBBoxParser(annotations_filepath="a.json", img_dir=["images"]),
     "img_dir=['images'] (a list)"),
    (lambda: VOCBBoxParser(annotations_dir=None, images_dir="."),
     "annotations_dir=None (a NoneType)"),
    (lambda: model_from_checkpoint(123), "filename=123 (an int)"),
])
def test_paths_of_another_type_name_the_argument(make, message):
    """``train_dl(batch_size='2')`` is above (test_loaders_and_end2end_arguments). A number or
    a list where a path goes: one ArgumentError naming the argument, not a bare
    TypeError from pathlib."""
    with pytest.raises(ArgumentError) as info:
        make()
    assert str(info.value) == f"{message}: pass a path (a str or pathlib.Path) of a file or folder"
