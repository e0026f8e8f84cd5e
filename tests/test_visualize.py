"""Pictures: PNG files of the right size, with box pixels where the boxes are."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from efficientdet_adapter import BBox, ClassMap, Record
from efficientdet_adapter.tfms import A
from efficientdet_adapter.pictures.draw import (
    PALETTE,
    color_for,
    display_image,
    show_records,
    show_samples,
)

BOX = (20.0, 30.0, 120.0, 80.0)


def _record(img=None, label_id=1):
    cm = ClassMap(["cat", "dog"])
    return Record(
        record_id=3, filepath=None, width=200, height=100, labels=[cm.get_by_id(label_id)],
        label_ids=[label_id], bboxes=[BBox.from_xyxy(*BOX)], class_map=cm,
        img=np.full((100, 200, 3), 255, np.uint8) if img is None else img,
    )


def _color_mask(png: np.ndarray, rgb, tol=12) -> np.ndarray:
    return (np.abs(png[..., :3].astype(int) - np.array(rgb)) <= tol).all(axis=-1)


def _outline_px(fig, box):
    """The box corners in PNG pixel coordinates, through the axes' own data transform."""
    ax = fig.axes[0]
    (x0, y0), (x1, y1) = ax.transData.transform([(box[0] - 0.5, box[1] - 0.5),
                                                 (box[2] - 0.5, box[3] - 0.5)])
    height = fig.get_size_inches()[1] * fig.dpi
    return x0, height - y0, x1, height - y1  # display y goes up, PNG rows go down


@pytest.mark.parametrize("label_id", [1, 2])
def test_box_pixels_lie_on_the_outline(tmp_path, label_id):
    path = tmp_path / "out" / "records.png"
    fig = show_records([_record(label_id=label_id)], ncols=1, save_path=path, display_label=False)
    png = np.asarray(Image.open(path).convert("RGB"))
    assert png.shape == (400, 400, 3)  # 4 x 4 inches at 100 dpi
    ys, xs = np.nonzero(_color_mask(png, color_for(label_id)))
    assert len(xs) > 100
    x0, y0, x1, y1 = _outline_px(fig, BOX)
    near_vertical = (np.minimum(abs(xs - x0), abs(xs - x1)) <= 3) & (ys >= y0 - 3) & (ys <= y1 + 3)
    near_horizontal = (np.minimum(abs(ys - y0), abs(ys - y1)) <= 3) & (xs >= x0 - 3) & (xs <= x1 + 3)
    assert (near_vertical | near_horizontal).all()  # nothing box-coloured off the outline
    for side in (abs(xs - x0) <= 2, abs(xs - x1) <= 2, abs(ys - y0) <= 2, abs(ys - y1) <= 2):
        assert side.sum() >= 20  # all four sides drawn


def test_label_is_drawn_above_the_box_in_its_colour(tmp_path):
    path = tmp_path / "labelled.png"
    fig = show_records([_record()], ncols=1, save_path=path)
    png = np.asarray(Image.open(path).convert("RGB"))
    ys, xs = np.nonzero(_color_mask(png, color_for(1)))
    x0, y0, x1, _ = _outline_px(fig, BOX)
    label_bg = (ys < y0 - 3) & (xs >= x0 - 3) & (xs <= x1)
    assert label_bg.sum() > 50  # the label's background box sits on the top-left corner


def test_show_samples_denormalizes(tmp_path):
    color = (10, 200, 30)
    raw = np.zeros((100, 200, 3), np.uint8) + np.array(color, np.uint8)
    sample = A.Adapter([A.Normalize()])(_record(img=raw))
    assert sample.img.dtype == np.float32
    path = tmp_path / "samples.png"
    fig = show_samples([sample, sample], ncols=2, save_path=path, display_label=False)
    png = np.asarray(Image.open(path).convert("RGB"))
    assert png.shape == (400, 800, 3)
    x0, y0, x1, y1 = _outline_px(fig, BOX)
    inside = png[int(y0) + 5:int(y1) - 5, int(x0) + 5:int(x1) - 5]
    assert np.abs(inside.astype(int) - np.array(color)).max() <= 2


@pytest.mark.parametrize(
    "img,kwargs,expected",
    [
        (np.full((2, 3, 3), 7, np.uint8), {}, 7),
        (np.full((2, 3, 3), 0.5, np.float32), {"denormalize": False}, 128),
        (np.zeros((2, 3, 3), np.float32), {"mean": (0.5,) * 3, "std": (1.0,) * 3}, 128),
        (torch.zeros(3, 2, 3 + 1), {"mean": (1.0,) * 3, "std": (1.0,) * 3}, 255),  # CHW tensor
    ],
)
def test_display_image(img, kwargs, expected):
    out = display_image(img, **kwargs)
    h, w = (img.shape[1], img.shape[2]) if isinstance(img, torch.Tensor) else img.shape[:2]
    assert out.shape == (h, w, 3) and out.dtype == np.uint8
    assert int(out[0, 0, 0]) == expected


@pytest.mark.parametrize(
    "label,expected",
    [(1, PALETTE[0]), (2, PALETTE[1]), (len(PALETTE) + 1, PALETTE[0]), (None, PALETTE[-1])],
)
def test_color_for(label, expected):
    assert color_for(label) == expected
    assert color_for("cat") == color_for("cat")


def test_file_name_that_is_not_utf8_still_plots(tmp_path):
    """A valid-split image named with Latin-1 bytes (``caf\\xe9.jpg``) used to crash the plot."""
    import os

    from efficientdet_adapter.pictures.draw import show_records

    name = os.fsdecode(b"caf\xe9.png")  # 'caf\udce9.png': a lone surrogate
    path = tmp_path / name
    Image.new("RGB", (64, 48), (200, 30, 30)).save(path)
    record = Record(record_id=0, filepath=path, width=64, height=48, labels=["a"],
                    label_ids=[1], bboxes=[BBox.from_xyxy(2, 2, 30, 30)],
                    class_map=ClassMap(["a"]))
    out = tmp_path / "records.png"
    show_records([record], save_path=out)
    with Image.open(out) as im:
        assert im.format == "PNG" and im.width > 100


def test_long_roboflow_file_names_fit_their_cells_without_overlapping():
    """train_samples.png (show_samples at 4 columns of 2.5 in) titled 60-character Roboflow
    names over each other: each title now fits its cell."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    from efficientdet_adapter.pictures.draw import show_samples

    names = [f"pothole_{i}_very_long_camera_name_jpg.rf.{i:032x}.jpg" for i in range(8)]
    samples = [Record(record_id=i, filepath=f"/data/{n}", width=256, height=256,
                      img=np.zeros((256, 256, 3), np.uint8)) for i, n in enumerate(names)]
    fig = show_samples(samples, ncols=4, denormalize=False, cell_size=2.5)
    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    renderer = canvas.get_renderer()
    titles = [ax.title for ax in fig.axes]
    assert [t.get_text() for t in titles][:2] == ["pothole_0_very_long_came…g.jpg",
                                                  "pothole_1_very_long_came…g.jpg"]
    for ax in fig.axes:
        assert ax.title.get_window_extent(renderer).width <= ax.get_window_extent(renderer).width
    for left, right in zip(titles[:3], titles[1:4]):  # one row: neighbours' extents are apart
        assert left.get_window_extent(renderer).x1 < right.get_window_extent(renderer).x0
