"""Pictures of records and samples: boxes in one colour per class, class names on a label.

Figures are built with ``matplotlib.figure.Figure`` directly (no pyplot): nothing depends on
the GUI backend, nothing piles up in pyplot's figure list, and ``save_path=`` writes a PNG on a
headless machine. In a Jupyter kernel every figure a drawing function makes is shown once in
the cell that drew it, as IceVision's were (``efficientdet_adapter.pictures.notebook``).

The drawing helpers are shared by ``efficientdet.show_batch``, ``show_results`` and
``show_preds``:

- [`grid`][efficientdet_adapter.pictures.draw.grid] makes a figure with ``n`` image cells,
- [`draw_boxes`][efficientdet_adapter.pictures.draw.draw_boxes] draws an image and its boxes (optionally
  scores) on one axes,
- [`render`][efficientdet_adapter.pictures.draw.render] draws them into a new image array (what
  [`draw_record`][efficientdet_adapter.pictures.draw.draw_record] returns),
- [`display_image`][efficientdet_adapter.pictures.draw.display_image] turns any sample image (normalized
  float or uint8) into uint8 RGB,
- [`color_for`][efficientdet_adapter.pictures.draw.color_for] gives the colour of a class id,
- [`finish`][efficientdet_adapter.pictures.draw.finish] saves (``save_path``) and returns the figure.
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from efficientdet_adapter.base.atomic import atomic_save
from efficientdet_adapter.records.images import IMAGENET_MEAN, IMAGENET_STD
from efficientdet_adapter.records.bbox import BBox
from efficientdet_adapter.records.class_map import ClassMap
from efficientdet_adapter.records.record import Record
from efficientdet_adapter.records.predictions import set_drawer
from efficientdet_adapter.base.errors import UsageError

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = [
    "as_rgb_tuple",
    "draw_sample",
    "IMAGENET_MEAN",
    "IMAGENET_STD",
    "PALETTE",
    "color_for",
    "display_image",
    "draw_boxes",
    "draw_record",
    "finish",
    "get_default_font",
    "grid",
    "pixels",
    "render",
    "short_title",
    "show_record",
    "show_records",
    "show_sample",
    "show_samples",
]

# Distinct colours that read on photos (saturated, not too dark), in order of class id 1, 2, ...
PALETTE: tuple[tuple[int, int, int], ...] = (
    (230, 25, 75), (60, 180, 75), (0, 130, 200), (245, 130, 48), (145, 30, 180),
    (70, 240, 240), (240, 50, 230), (210, 245, 60), (250, 190, 212), (0, 128, 128),
    (220, 190, 255), (170, 110, 40), (255, 250, 200), (128, 0, 0), (170, 255, 195),
    (128, 128, 0), (255, 215, 180), (0, 0, 128), (255, 225, 25), (128, 128, 128),
)


def color_for(label: int | str | None) -> tuple[int, int, int]:
    """The RGB colour (0-255) of a class: by id (1 -> first colour), or by a stable name hash.

    Example:
        >>> color_for(1), color_for(21) == color_for(1)
        ((230, 25, 75), True)
    """
    if label is None:
        return PALETTE[-1]
    if isinstance(label, str):
        return PALETTE[zlib.crc32(label.encode()) % len(PALETTE)]
    return PALETTE[(int(label) - 1) % len(PALETTE)]


def display_image(
    img: np.ndarray,
    denormalize: bool = True,
    mean: Sequence[float] = IMAGENET_MEAN,
    std: Sequence[float] = IMAGENET_STD,
) -> np.ndarray:
    """An HxWx3 uint8 image to show: float images are un-normalized (``img * std + mean``).

    Accepts HxWx3 or 3xHxW arrays (or tensors). uint8 images pass through unchanged.
    """
    arr = img.detach().cpu().numpy() if hasattr(img, "detach") else np.asarray(img)
    if arr.ndim == 3 and arr.shape[0] == 3 and arr.shape[2] != 3:
        arr = arr.transpose(1, 2, 0)
    if arr.dtype == np.uint8:
        return arr
    arr = arr.astype(np.float32)
    if denormalize:
        arr = arr * np.asarray(std, np.float32) + np.asarray(mean, np.float32)
        arr = arr * 255.0
    elif arr.max(initial=0) <= 1.0:
        arr = arr * 255.0
    return np.clip(np.rint(arr), 0, 255).astype(np.uint8)


def grid(n: int, ncols: int = 3, cell_size: float = 4.0, dpi: int = 100) -> tuple["Figure", list["Axes"]]:
    """A figure of ``n`` cells (``ncols`` per row), each ``cell_size`` inches square.

    Returns the figure and its ``n`` axes (axis lines off).
    """
    from matplotlib.figure import Figure  # noqa: PLC0415

    n = max(int(n), 1)
    ncols = max(1, min(int(ncols), n))
    nrows = -(-n // ncols)
    fig = Figure(figsize=(ncols * cell_size, nrows * cell_size), dpi=dpi)
    axes = fig.subplots(nrows, ncols, squeeze=False).ravel().tolist()
    for ax in axes:
        ax.set_axis_off()
    fig.subplots_adjust(left=0.01, right=0.99, bottom=0.01, top=0.95, wspace=0.03, hspace=0.08)
    return fig, axes[:n]


def _as_xyxy(boxes) -> np.ndarray:
    if len(boxes) and isinstance(boxes[0], BBox):
        return np.array([b.xyxy for b in boxes], dtype=np.float64)
    return np.asarray(boxes, dtype=np.float64).reshape(-1, 4)


def draw_boxes(
    ax: "Axes",
    img: np.ndarray | None,
    boxes,
    labels: Sequence[str] | None = None,
    scores: Sequence[float] | None = None,
    label_ids: Sequence[int] | None = None,
    *,
    title: str | None = None,
    linewidth: float = 2.0,
    fontsize: float = 8.0,
) -> "Axes":
    """Draw ``img`` (uint8 HxWx3) and its xyxy ``boxes`` (``BBox`` list or ``[N, 4]``) on ``ax``.

    Each box takes its class colour (from ``label_ids``, else from the label name) and, when
    ``labels`` or ``scores`` are given, a label such as ``"cat 0.87"`` on a box of that colour.

    Example:
        >>> fig, (ax,) = grid(1)
        >>> draw_boxes(ax, img, record.bboxes, record.labels, label_ids=record.label_ids)
    """
    from matplotlib.patches import Rectangle  # noqa: PLC0415

    if img is not None:
        ax.imshow(img)
    xyxy = _as_xyxy(boxes)
    for i, (x0, y0, x1, y1) in enumerate(xyxy.tolist()):
        label = labels[i] if labels is not None and i < len(labels) else None
        key = label_ids[i] if label_ids is not None and i < len(label_ids) else label
        rgb = np.array(color_for(key)) / 255.0
        # pixel centres sit on integers in imshow: the continuous box edge is half a pixel off
        ax.add_patch(Rectangle((x0 - 0.5, y0 - 0.5), x1 - x0, y1 - y0, fill=False,
                               edgecolor=rgb, linewidth=linewidth))
        text = " ".join(
            part for part in (label, None if scores is None else f"{float(scores[i]):.2f}") if part
        )
        if text:
            light = float(rgb @ np.array([0.299, 0.587, 0.114])) > 0.6
            ax.text(x0 - 0.5, y0 - 0.5, text, fontsize=fontsize, color="black" if light else "white",
                    va="bottom", ha="left", clip_on=True,
                    bbox=dict(facecolor=rgb, edgecolor="none", pad=1.5))
    if title:  # a file name that is not UTF-8 holds lone surrogates, which fonts cannot draw
        title = str(title).encode("utf-8", "surrogateescape").decode("utf-8", "replace")
        width_in = ax.get_position().width * ax.figure.get_figwidth()
        # a character of the title's font is about 0.6 em wide: what fits the cell, no more
        ax.set_title(short_title(title, int(width_in * 72 / (0.6 * (fontsize + 1)))),
                     fontsize=fontsize + 1)
    ax.set_axis_off()
    return ax


def render(
    img: np.ndarray,
    boxes,
    labels: Sequence[str] | None = None,
    scores: Sequence[float] | None = None,
    label_ids: Sequence[int] | None = None,
    *,
    fontsize: float | None = None,
) -> np.ndarray:
    """``img`` (HxWx3 uint8) with its boxes drawn, as a new array of the same size."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg  # noqa: PLC0415
    from matplotlib.figure import Figure  # noqa: PLC0415

    h, w = img.shape[:2]
    dpi = 100
    fig = Figure(figsize=(w / dpi, h / dpi), dpi=dpi)
    canvas = FigureCanvasAgg(fig)
    ax = fig.add_axes((0, 0, 1, 1))
    draw_boxes(ax, img, boxes, labels, scores, label_ids,
               fontsize=fontsize if fontsize is not None else max(6.0, min(w, h) / 40))
    ax.set_xlim(-0.5, w - 0.5)
    ax.set_ylim(h - 0.5, -0.5)
    canvas.draw()
    rgba = np.asarray(canvas.buffer_rgba())
    return np.ascontiguousarray(rgba[:h, :w, :3])


def finish(fig: "Figure", save_path: str | Path | None = None) -> "Figure":
    """Save ``fig`` as a PNG when ``save_path`` is given (folders created); in a Jupyter kernel
    show it in the running cell (once, see ``visualize.notebook``); return it."""
    from efficientdet_adapter.pictures.notebook import show_in_kernel  # noqa: PLC0415

    if save_path is not None:
        path = Path(save_path)
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_save(path, lambda tmp: fig.savefig(tmp, dpi=fig.dpi, format="png"))
    show_in_kernel(fig)
    return fig


def _names(record: Record, class_map: ClassMap | None) -> list[str]:
    # IceVision ignored the class_map argument (records carry theirs); accept anything there.
    cm = class_map if isinstance(class_map, ClassMap) else record.class_map
    if record.labels and len(record.labels) == len(record.bboxes):
        return list(record.labels)
    if cm is not None:
        return [cm.get_by_id(i) for i in record.label_ids]
    return [str(i) for i in record.label_ids]


_ROBOFLOW_HASH = re.compile(r"\.rf\.[0-9a-f]{16,}")


def short_title(name: str, max_chars: int) -> str:
    """``name`` in at most ``max_chars`` characters: Roboflow's ``.rf.<hash>`` dropped, then
    the middle cut (the start and the extension stay).

    Example:
        >>> short_title("IMG_0042_jpg.rf.3f2b9c0d4e5f60718293a4b5c6d7e8f9.jpg", 40)
        'IMG_0042_jpg.jpg'
        >>> short_title("a_very_long_photo_name_from_a_camera.jpeg", 20)
        'a_very_long_p…a.jpeg'
    """
    name = _ROBOFLOW_HASH.sub("", name)
    max_chars = max(int(max_chars), 5)
    if len(name) <= max_chars:
        return name
    tail = min(len(Path(name).suffix) + 1, max_chars // 2)
    return name[:max_chars - tail - 1] + "…" + name[len(name) - tail:]


def _title(record: Record) -> str:
    return Path(record.filepath).name if record.filepath is not None else str(record.record_id)


def pixels(record: Record) -> np.ndarray:
    """The image a record's boxes refer to: its own pixels, or its file's (loaded, not cached).

    Raises:
        ValueError: the record has no pixels and its size is not its file's: a transformed
            record from a batch (batches drop the pixels), whose boxes would land in the wrong
            place on the original image.
    """
    if record.img is not None:
        return record.img
    img = record.copy().load_image()
    if record.width and record.height and (img.shape[1], img.shape[0]) != (record.width, record.height):
        raise UsageError(
            f"{record.filepath}: this record's boxes are in the pixels of a {record.width}x"
            f"{record.height} transformed image, but it carries no pixels (the records of a batch "
            f"drop them) and the file is {img.shape[1]}x{img.shape[0]}; show dataset items instead "
            "(show_samples([train_ds[i] for i in range(6)])) or a batch with "
            "efficientdet.show_batch(batch)"
        )
    return img


def grid_cell_size(figsize, ncols: int, n: int, cell_size: float) -> float:
    """IceVision's ``figsize=(w, h)`` of a whole grid -> our square cell size in inches."""
    if figsize is None:
        return cell_size
    ncols = max(1, min(int(ncols), max(int(n), 1)))
    nrows = -(-max(int(n), 1) // ncols)
    return float(min(figsize[0] / ncols, figsize[1] / nrows))


def sample_image(img, denormalize=True, mean=IMAGENET_MEAN, std=IMAGENET_STD, denormalize_fn=None):
    if denormalize_fn is not None and np.asarray(img).dtype != np.uint8:
        return np.asarray(denormalize_fn(img))
    return display_image(img, denormalize, mean, std)


def show_records(
    records: Sequence[Record],
    ncols: int = 3,
    class_map: ClassMap | None = None,
    save_path: str | Path | None = None,
    *,
    display_label: bool = True,
    cell_size: float = 4.0,
    figsize: tuple[float, float] | None = None,
    **ignored,
) -> "Figure":
    """A grid of records with their boxes and class names (images loaded, never cached).

    ``class_map`` names the ids of records without labels; like IceVision, anything that is not
    a [`ClassMap`][efficientdet_adapter.records.class_map.ClassMap] is ignored (records carry their own).
    ``figsize`` is the whole grid's
    size in inches (IceVision's argument); other IceVision display options are accepted and
    ignored (``display_bbox``, ``display_mask``...).

    Example:
        >>> show_records(train_records[:6], ncols=3, save_path="records.png")
    """
    fig, axes = grid(len(records), ncols, grid_cell_size(figsize, ncols, len(records), cell_size))
    for ax, record in zip(axes, records):
        img = pixels(record)
        draw_boxes(ax, display_image(img), record.bboxes,
                   _names(record, class_map) if display_label else None,
                   label_ids=record.label_ids or None, title=_title(record))
    return finish(fig, save_path)


def show_record(
    record: Record,
    class_map: ClassMap | None = None,
    display_label: bool = True,
    *,
    figsize: tuple[float, float] | None = None,
    save_path: str | Path | None = None,
    **ignored,
) -> "Figure":
    """One record with its boxes (IceVision's ``show_record``; see
    [`show_records`][efficientdet_adapter.pictures.draw.show_records])."""
    return show_records([record], 1, class_map, save_path, display_label=display_label,
                        figsize=figsize)


def show_samples(
    samples: Sequence[Record],
    ncols: int = 3,
    denormalize: bool = True,
    mean: Sequence[float] = IMAGENET_MEAN,
    std: Sequence[float] = IMAGENET_STD,
    save_path: str | Path | None = None,
    *,
    class_map: ClassMap | None = None,
    display_label: bool = True,
    cell_size: float = 4.0,
    denormalize_fn=None,
    figsize: tuple[float, float] | None = None,
    **ignored,
) -> "Figure":
    """A grid of transformed samples (Dataset items); normalized images are un-normalized.

    ``denormalize_fn`` (IceVision's argument, e.g. ``denormalize_imagenet``) replaces the
    ``mean``/``std`` un-normalization for float images.

    Example:
        >>> show_samples([train_ds[0] for _ in range(6)], ncols=3, save_path="augs.png")
    """
    fig, axes = grid(len(samples), ncols, grid_cell_size(figsize, ncols, len(samples), cell_size))
    for ax, sample in zip(axes, samples):
        img = pixels(sample)
        draw_boxes(ax, sample_image(img, denormalize, mean, std, denormalize_fn), sample.bboxes,
                   _names(sample, class_map) if display_label else None,
                   label_ids=sample.label_ids or None, title=_title(sample))
    return finish(fig, save_path)


def show_sample(sample: Record, **kwargs) -> "Figure":
    """One transformed sample (IceVision's ``show_sample``; see
    [`show_samples`][efficientdet_adapter.pictures.draw.show_samples])."""
    return show_samples([sample], 1, **kwargs)


def get_default_font() -> str:
    """Path of a TrueType font that is always there (matplotlib's DejaVu Sans)."""
    from matplotlib import font_manager  # noqa: PLC0415

    return font_manager.findfont("DejaVu Sans")


def draw_record(
    record,
    class_map: ClassMap | None = None,
    display_label: bool = True,
    display_score: bool = True,
    display_bbox: bool = True,
    *,
    font_size: float | None = None,
    return_as_pil_img: bool = False,
    denormalize_fn=None,
    **ignored,
):
    """A record or a [`Prediction`][efficientdet_adapter.records.predictions.Prediction] drawn into its
    image (IceVision's form).

    Returns an HxWx3 uint8 array, or a PIL image with ``return_as_pil_img=True``. Boxes take
    their class colour; IceVision's styling options (``font_path``, ``label_color``,
    ``display_mask``...) are accepted and ignored.

    Example:
        >>> draw_record(train_records[0], return_as_pil_img=True).save("record.png")
    """
    if not isinstance(record, Record):  # a Prediction (this module sits below predictions.py)
        pred = record
        img = pred.img
        if img is None and pred.filepath is not None:
            from efficientdet_adapter.records.images import open_img  # noqa: PLC0415

            img = open_img(pred.filepath)
        if img is None:
            raise UsageError(f"prediction {pred.record_id!r} has no image: predict with "
                             "keep_images=True (or from files)")
        boxes, ids = pred.boxes[pred.keep], pred.kept_label_ids
        names = pred.labels if display_label else None
        scores = pred.kept_scores.tolist() if display_score else None
    else:
        img = pixels(record)
        img = sample_image(img, denormalize_fn=denormalize_fn)
        boxes, ids = record.bboxes, record.label_ids or None
        names = _names(record, class_map) if display_label else None
        scores = None
    if not display_bbox:
        boxes, names, scores, ids = [], None, None, None
    out = render(display_image(np.asarray(img), denormalize=False), boxes, names, scores, ids,
                 fontsize=font_size)
    if return_as_pil_img:
        from PIL import Image  # noqa: PLC0415

        return Image.fromarray(out)
    return out


draw_sample = draw_record  # IceVision drew a sample, a record and a prediction alike


def as_rgb_tuple(color: Any) -> tuple[int, int, int]:
    """An ``(r, g, b)`` tuple from a colour name or hex string (``"red"``, ``"#fff"``), or from
    three numbers (a list, tuple or array), as IceVision's.

    Raises:
        UsageError: not three numbers, or not a colour Pillow knows.

    Example:
        >>> as_rgb_tuple("#ffaaaa"), as_rgb_tuple([1, 2, 3])
        ((255, 170, 170), (1, 2, 3))
    """
    from PIL import ImageColor  # noqa: PLC0415

    if isinstance(color, str):
        try:
            return ImageColor.getrgb(color)[:3]
        except ValueError as e:
            raise UsageError(f"as_rgb_tuple: {color!r} is not a colour ({e})") from None
    values = list(np.asarray(color).reshape(-1)) if hasattr(color, "__len__") else []
    if len(values) != 3:
        raise UsageError(f"as_rgb_tuple: expected 3 (RGB) numbers, got {color!r}")
    return tuple(int(v) for v in values)


set_drawer(draw_record)  # Prediction["img"] (IceVision's end2end_detect dict) draws with it
