"""Pictures of predictions: the kept boxes drawn on the original images.

Drawing only; no model runs here. [`prediction`][efficientdet_adapter.inference.prediction] runs
the model (``predict``,
``end2end_detect``) and its ``show_results`` composes ``predict`` with
[`show_preds`][efficientdet_adapter.pictures.show.show_preds]; the
old names stay importable from there (``efficientdet.prediction.annotate``...) and from
``efficientdet`` itself.

Example:
    >>> preds = efficientdet.predict(model, ds, keep_images=True)    # doctest: +SKIP
    >>> show_preds(preds[:6], save_path="preds.png")                  # doctest: +SKIP
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from efficientdet_adapter.records.predictions import Prediction
from efficientdet_adapter.records.record import Record
from efficientdet_adapter.base.errors import UsageError

__all__ = ["annotate", "show_pred", "show_preds"]


# -- one prediction ----------------------------------------------------------------------------------
def _pred_image(pred: Prediction) -> np.ndarray:
    from efficientdet_adapter.pictures.draw import display_image  # noqa: PLC0415

    if pred.img is not None:
        return display_image(pred.img, denormalize=False)
    if pred.filepath is not None:
        from efficientdet_adapter.records.images import open_img  # noqa: PLC0415

        return open_img(pred.filepath)
    raise UsageError(
        f"prediction {pred.record_id!r} has no image: predict with keep_images=True (or from files)"
    )


def _draw_pred(ax, pred: Prediction, img, display_label: bool, display_score: bool, title: str):
    from efficientdet_adapter.pictures.draw import draw_boxes  # noqa: PLC0415

    draw_boxes(
        ax, img, pred.kept_boxes, pred.labels if display_label else None,
        pred.kept_scores.tolist() if display_score else None, label_ids=pred.kept_label_ids,
        title=title,
    )


def _draw_truth(ax, record: Record, img, display_label: bool, title: str):
    from efficientdet_adapter.pictures.draw import draw_boxes  # noqa: PLC0415

    names = record.labels or (
        [record.class_map.get_by_id(i) for i in record.label_ids] if record.class_map else None
    )
    draw_boxes(ax, img, record.bboxes, names if display_label else None,
                label_ids=record.label_ids or None, title=title)


def _name(pred: Prediction, width: int = 24) -> str:
    """A short title: the file name without Roboflow's ``.rf.<hash>`` part, at most ``width``."""
    if pred.filepath is None:
        return str(pred.record_id)
    name = Path(pred.filepath).name.split(".rf.")[0]
    return name if len(name) <= width else name[: width - 9] + "..." + name[-6:]


def annotate(
    pred: Prediction, *, display_label: bool = True, display_score: bool = True,
    max_side: int | None = None,
) -> np.ndarray:
    """The prediction's image (HxWx3 uint8) with its kept boxes, names and scores.

    ``max_side``: draw on a copy whose longer side is at most this many pixels (boxes scaled
    with it). Drawing costs memory in proportion to the pixels drawn on (matplotlib's canvas and
    its resampled copy of the image: about 40 bytes per pixel), so a 36-Mpx photo drawn whole
    needs several GB; ``predict`` on the command line draws at most `MAX_ANNOTATED_SIDE`
    pixels a side. ``None``: the image's own size.

    Example:
        >>> PIL.Image.fromarray(annotate(pred)).save("dog_pred.png")
    """
    from efficientdet_adapter.pictures.draw import render  # noqa: PLC0415

    img = _pred_image(pred)
    boxes = np.asarray(pred.kept_boxes, dtype=np.float32).reshape(-1, 4)
    h, w = img.shape[:2]
    if max_side is not None and max(h, w) > max_side:
        from PIL import Image  # noqa: PLC0415

        scale = max_side / max(h, w)
        size = (max(1, round(w * scale)), max(1, round(h * scale)))
        small = Image.fromarray(img).resize(size, Image.Resampling.BILINEAR, reducing_gap=2.0)
        del img
        img = np.asarray(small)
        boxes = boxes * np.array([size[0] / w, size[1] / h] * 2, dtype=np.float32)
    return render(img, boxes, pred.labels if display_label else None,
                  pred.kept_scores.tolist() if display_score else None, pred.kept_label_ids)


#: The longest side, in pixels, of the annotated copies that ``predict`` writes.
MAX_ANNOTATED_SIDE = 2048


def show_preds(
    preds: Sequence[Prediction],
    ncols: int = 2,
    *,
    show_ground_truth: bool = True,
    display_label: bool = True,
    display_score: bool = True,
    save_path: str | Path | None = None,
    cell_size: float = 4.0,
    annotations: Sequence[Any] | None = None,
    imgs: Sequence[np.ndarray] | None = None,
    denormalize_fn: Any = None,
    figsize: tuple[float, float] | None = None,
    **ignored: Any,
):
    """A grid of predictions, each beside its ground truth (when it has one).

    Predictions need their images: from ``predict(..., keep_images=True)``, or files.

    Args:
        annotations: one text per prediction, shown in its title (``plot_top_losses`` puts the
            losses there).
        imgs, denormalize_fn: IceVision's older form: the images to draw on (normalized float
            images are un-normalized with ``denormalize_fn``).
        figsize: the whole grid's size in inches (IceVision's argument).
        ignored: IceVision's other display options (``display_bbox``, ``display_mask``...).

    Example:
        >>> show_preds(predict(model, ds, keep_images=True)[:6], save_path="preds.png")
    """
    from efficientdet_adapter.pictures.draw import grid_cell_size, sample_image, finish, grid  # noqa: PLC0415

    preds = list(preds)
    if imgs is not None:
        preds = [dataclasses.replace(p, img=sample_image(img, denormalize_fn=denormalize_fn))
                 for p, img in zip(preds, imgs)]
    pairs = show_ground_truth and any(p.ground_truth is not None for p in preds)
    per = 2 if pairs else 1
    fig, axes = grid(len(preds) * per, ncols * per,
                     grid_cell_size(figsize, ncols * per, len(preds) * per, cell_size))
    for i, pred in enumerate(preds):
        img = _pred_image(pred)
        note = ""
        if annotations is not None and i < len(annotations):
            text = annotations[i]
            note = "\n" + (" ".join(text) if isinstance(text, (list, tuple)) else str(text))
        if pairs:
            truth = pred.ground_truth
            if truth is not None:
                _draw_truth(axes[2 * i], truth, img, display_label, f"{_name(pred)}: truth{note}")
            _draw_pred(axes[2 * i + 1], pred, img, display_label, display_score,
                       f"prediction >= {pred.detection_threshold:g}")
        else:
            _draw_pred(axes[i], pred, img, display_label, display_score, f"{_name(pred)}{note}")
    return finish(fig, save_path)


def show_pred(pred: Prediction, **kwargs: Any):
    """One prediction beside its ground truth (IceVision's ``show_pred``; see
    [`show_preds`][efficientdet_adapter.pictures.show.show_preds])."""
    return show_preds([pred], 1, **kwargs)
