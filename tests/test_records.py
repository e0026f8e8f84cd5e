"""records: one size type (ImgSize) and its one normaliser; the recorded Geometry."""

from __future__ import annotations

import pytest

from efficientdet_adapter.base.errors import CheckpointError, ModelConfigError
from efficientdet_adapter.records.record import MAX_IMG_SIZE, Geometry, ImgSize, normalize_img_size


# -- one size type, one normaliser --------------------------------------------------------------
@pytest.mark.parametrize("value, kwargs, expected", [
    (384, {}, (384, 384)),
    ((256, 384), {"stride": 128}, (384, 256)),  # (height, width) in, named fields out
    (ImgSize(width=640, height=128), {"stride": 128}, (640, 128)),
    (4096, {}, (4096, 4096)),
    (5000, {"max_side": None}, (5000, 5000)),
])
def test_normalize_img_size_reads_every_spelling_into_one_type(value, kwargs, expected):
    size = normalize_img_size(value, where="test", **kwargs)
    assert isinstance(size, ImgSize) and (size.width, size.height) == expected


@pytest.mark.parametrize("value, kwargs, error, message", [
    (100, {"stride": 128}, ModelConfigError, r"100 is not a multiple of 128 \(here\).*use 128"),
    ((384, 500), {"stride": 128}, ModelConfigError, "nearest valid sizes for 500: 384 or 512"),
    (0, {"stride": 128}, ModelConfigError, "0 is not a positive multiple of 128"),
    (8192, {}, ModelConfigError, r"8192 is larger than 4096 \(here"),
    (0, {}, CheckpointError, r"0 is not an image size \(here\): each side must be positive"),
    ("384", {}, CheckpointError, "img_size must be an int or a .height, width. pair"),
    (True, {}, ModelConfigError, "img_size must be an int"),
])
def test_normalize_img_size_refuses_with_the_error_asked_for(value, kwargs, error, message):
    with pytest.raises(error, match=message):
        normalize_img_size(value, where="here", error=error, **kwargs)


def test_one_max_img_size():
    from efficientdet_adapter.model import config

    assert config.MAX_IMG_SIZE is MAX_IMG_SIZE == 4096
    assert config.normalize_img_size is normalize_img_size


def test_geometry_composes_and_inverts():
    first = Geometry(0.5, 0.25, 2.0, 4.0, size=ImgSize(60, 30), source=ImgSize(100, 80))
    second = Geometry(2.0, 2.0, 1.0, 0.0, size=ImgSize(121, 60), source=ImgSize(60, 30))
    both = first.followed_by(second)
    assert (both.scale_x, both.scale_y, both.offset_x, both.offset_y) == (1.0, 0.5, 5.0, 8.0)
    assert (both.source, both.size) == (ImgSize(100, 80), ImgSize(121, 60))
    assert both.to_transformed([[10, 20, 30, 40]]).tolist() == [[15.0, 18.0, 35.0, 28.0]]
    assert both.to_original([[15, 18, 35, 28]]).tolist() == [[10.0, 20.0, 30.0, 40.0]]
    assert Geometry.identity(ImgSize(5, 6)).to_original([[1, 2, 9, 9]]).tolist() == [
        [1.0, 2.0, 5.0, 6.0]]  # clipped to the original
