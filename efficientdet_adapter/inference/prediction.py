"""Prediction: boxes on the user's own images, in the pixels of the ORIGINAL images.

The model sees transformed images (resized, padded, normalized).
[`predict`][efficientdet_adapter.inference.prediction.predict],
[`predict_from_dl`][efficientdet_adapter.inference.prediction.predict_from_dl] and
[`end2end_detect`][efficientdet_adapter.inference.single_image.end2end_detect] run it, then undo
the resize and the padding
exactly, per image and per axis (images of any size and aspect ratio can share a batch), using
the geometry each sample's transform recorded when it ran (``sample.geometry``, a
[`Geometry`][efficientdet_adapter.records.record.Geometry], as effdet's loader records ``img_scale``).
Boxes stay floats; they are clipped to the original image. Predictions are
matched to the dataset's records by position, so record ids may repeat. Drawing them is
[`show`][efficientdet_adapter.pictures.show] (``annotate``, ``show_preds``; re-exported here).

Every detection effdet returns (its ``max_det_per_image`` best after NMS, 100 by default) is kept
in the [`Prediction`][efficientdet_adapter.records.predictions.Prediction] (score floor ``min_score=0.0``),
so
``pred.with_threshold(t)`` re-thresholds without running the model again;
``detection_threshold`` only sets which ones the thresholded views show.

Example:
    >>> ds = Dataset.from_images(["a.jpg", "b.png"], valid_tfm)
    >>> preds = efficientdet.predict(model, ds, detection_threshold=0.4)
    >>> preds[0].bboxes, preds[0].labels, preds[0].kept_scores
"""

from __future__ import annotations

import dataclasses
import logging
import math
import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from efficientdet_adapter.records.class_map import ClassMap
from efficientdet_adapter.base.errors import BatchError, ImageLoadError, UsageError
from efficientdet_adapter.inference.image_files import (
    DEFAULT_MAX_PIXELS,
    FilePredictions,
    image_files,
    is_file_input,
    readable_runs,
    report_skipped,
    tile_count_warning,
)
from efficientdet_adapter.records.images import oriented_size
from efficientdet_adapter.records.images import check_pixels
from efficientdet_adapter.records.predictions import Prediction
from efficientdet_adapter.records.record import Geometry, Record
from efficientdet_adapter.model.ops.targets import predictions_from_detections
from efficientdet_adapter.model.onnx_model import OnnxModel
from efficientdet_adapter.model.runtime import detect  # re-exported: the model primitive lives with the runtime
from efficientdet_adapter.model.runtime import to_inference_device
from efficientdet_adapter.pictures.show import annotate, show_pred, show_preds  # re-exported: drawing lives in .show
from efficientdet_adapter.model.wrappers import find_bench
from efficientdet_adapter.loop.steps import detect_batch  # the one batch step of every loop

__all__ = [
    "detect",
    "predict",
    "predict_from_dl",
    "predict_files",
    "FilePredictions",
    "inference_tfm",
    "to_original",
    "annotate",
    "show_results",
    "show_pred",
    "show_preds",
]

logger = logging.getLogger(__name__)

DEFAULT_MIN_SCORE = 0.0


def _num_workers(num_workers: int | None, device: torch.device, dataset: Any,
                 batch_size: int) -> int:
    """DataLoader workers for [`predict`][efficientdet_adapter.inference.prediction.predict].
    ``None``: when a GPU waits for images read from
    files, up to 4 (one core left for the main process, no more than the batches after the
    first); else 0 (on the CPU the model needs the cores; images in memory need no decoding)."""
    if num_workers is not None:
        if isinstance(num_workers, bool) or not isinstance(num_workers, int) or num_workers < 0:
            raise UsageError(f"num_workers={num_workers!r}: use 0 (no worker processes) or more")
        return num_workers
    records = getattr(dataset, "records", None) or []
    from_files = any(r.img is None and r.filepath is not None for r in records)
    if device.type != "cuda" or not from_files:
        return 0
    batches = math.ceil(len(records) / max(1, batch_size))
    return max(0, min(4, (os.cpu_count() or 1) - 1, batches - 1))


# -- mapping back to the original images -----------------------------------------------------
def to_original(
    detections: np.ndarray,
    tfm: Any,
    originals: Sequence[Record],
    *,
    geometries: Sequence[Geometry | None] | None = None,
) -> np.ndarray:
    """``[B, K, 6]`` detections with their boxes moved from input pixels to each original image.

    ``geometries``: what the transform recorded on each sample (``sample.geometry``; the
    batches of ``infer_dl`` carry their samples). An image with none (a sample built without
    the Adapter) uses [`geometry`][efficientdet_adapter.tfms.albumentations_adapter.geometry] of
    ``tfm`` (the deterministic
    inference transform, an ``Adapter``) at the original's size; ``tfm=None``: no change.

    Example:
        >>> (images, _), samples = batch                  # from efficientdet.infer_dl(ds)
        >>> to_original(dets, ds.tfm, originals, geometries=[s.geometry for s in samples])
        ... # doctest: +SKIP
    """
    out = np.array(detections, dtype=np.float64, copy=True)
    if tfm is None:
        return out
    recorded = list(geometries) if geometries is not None else [None] * len(originals)
    for i, original in enumerate(originals):
        g = recorded[i]
        if g is None:
            from efficientdet_adapter.tfms import geometry  # noqa: PLC0415

            g = geometry(tfm, original.width, original.height)
        out[i, :, :4] = g.to_original(out[i, :, :4]).reshape(-1, 4)
    return out


def _check_in_order(infer_dl: Any) -> None:
    """Predictions are matched to the dataset's records by position (record ids may repeat):
    the loader must give the items in the dataset's order."""
    from torch.utils.data import SequentialSampler  # noqa: PLC0415

    sampler = getattr(infer_dl, "sampler", None)
    if sampler is not None and not isinstance(sampler, SequentialSampler):
        raise BatchError(
            f"the inference loader draws its items with a {type(sampler).__name__}: predictions "
            "are matched to the dataset's records by position, so build it in order "
            "(efficientdet.infer_dl(dataset, batch_size=..., shuffle=False), no sampler)"
        )


def _original(original: Record, with_image: bool) -> Record:
    """A copy of the dataset's ``original`` record (the dataset's own record is never changed)."""
    copy = original.copy(img=original.img if with_image else None)
    if with_image:
        copy.load_image()
    return copy


def _has_annotations(records: Iterable[Record]) -> bool:
    return any(r.bboxes for r in records)


def predict_from_dl(
    model: nn.Module,
    infer_dl: Iterable,
    show_pbar: bool = True,
    keep_images: bool = False,
    detection_threshold: float = 0.5,
    *,
    min_score: float = DEFAULT_MIN_SCORE,
    device: str | torch.device | None = "auto",
    class_map: ClassMap | None = None,
) -> list[Prediction]:
    """Predictions for every batch of an inference loader (``efficientdet.infer_dl(dataset)``).

    When the loader's dataset is a [`Dataset`][efficientdet_adapter.records.dataset.Dataset] (it is for
    ``infer_dl``), boxes are mapped back to each record's original image, and the prediction's
    ``ground_truth`` is the original record when the dataset has annotations. Otherwise they stay
    in the pixels of the transformed images. Predictions are matched to the dataset's records by
    position (the i-th prediction is the i-th record, whatever the record ids), so the loader
    must keep the dataset's order (``shuffle=False``, the default; a shuffling loader is refused).

    Args:
        model: the model from ``efficientdet.model`` or ``model_from_checkpoint``.
        infer_dl: batches ``((images, img_info), records)`` from ``efficientdet.infer_dl``.
        show_pbar: show a tqdm progress bar.
        keep_images: attach each original image (uint8 RGB) as ``pred.img``.
        detection_threshold: sets the predictions' thresholded views (all detections are kept).
        min_score: detections scoring below it are not stored at all.
        device: where to run: ``"auto"`` (the GPU when there is one, else the CPU), ``"cpu"``,
            ``"cuda"``, a ``torch.device``, or ``None`` (where the model is). The model is moved
            there and stays there. See
            [`inference_device`][efficientdet_adapter.model.runtime.inference_device].
        class_map: names for the label ids (default: each record's class map; an ONNX
            model's own).

    ``model`` may be an accelerated model
    ([`accelerate`][efficientdet_adapter.model.runtime.accelerate]: compiled, fp16).

    Example:
        >>> preds = predict_from_dl(model, efficientdet.infer_dl(ds, batch_size=8))
    """
    from efficientdet_adapter.base.arguments import probability  # noqa: PLC0415

    probability(detection_threshold, "detection_threshold")
    from efficientdet_adapter.base.version_compat import tqdm_class  # noqa: PLC0415

    tqdm = tqdm_class()

    if class_map is None and isinstance(model, OnnxModel):
        class_map = model.class_map  # the names its metadata holds
    dataset = getattr(infer_dl, "dataset", None)
    originals = getattr(dataset, "records", None)
    tfm = getattr(dataset, "tfm", None)
    gt = originals is not None and _has_annotations(originals)
    if originals is None:
        logger.warning("the loader has no Dataset: boxes stay in the transformed images' pixels")
    else:
        _check_in_order(infer_dl)
    position = 0  # the dataset index of the batch's first item
    device = to_inference_device(model, device)
    was_training = model.training
    model.eval()
    preds: list[Prediction] = []
    try:
        total = len(infer_dl) if hasattr(infer_dl, "__len__") else None
        for batch in tqdm(infer_dl, total=total, disable=not show_pbar, desc="predict"):
            dets, records = detect_batch(model, batch, device)
            if originals is None:
                batch_records = list(records)
            else:
                batch_records = [_original(r, keep_images)
                                 for r in originals[position : position + len(records)]]
                if len(batch_records) != len(records):
                    raise BatchError(
                        f"the loader gave more items than its dataset's {len(originals)} records")
                position += len(records)
                dets = to_original(dets, tfm, batch_records,
                                   geometries=[getattr(r, "geometry", None) for r in records])
            preds += predictions_from_detections(
                dets, batch_records, detection_threshold=detection_threshold,
                min_score=min_score, class_map=class_map, ground_truth=gt,
                keep_images=keep_images,
            )
    finally:
        model.train(was_training)
    return preds


def predict(
    model: nn.Module,
    dataset: Any,
    detection_threshold: float = 0.5,
    keep_images: bool = False,
    device: str | torch.device | None = "auto",
    *,
    batch_size: int = 8,
    num_workers: int | None = None,
    show_pbar: bool = False,
    min_score: float = DEFAULT_MIN_SCORE,
    class_map: ClassMap | None = None,
    tile: Sequence[int] | None = None,
    overlap: float | int = 0.25,
    max_tiles: int | None = None,
    max_pixels: int | None = DEFAULT_MAX_PIXELS,
    skip_unreadable: bool = True,
) -> list[Prediction]:
    """Run the model on a [`Dataset`][efficientdet_adapter.records.dataset.Dataset], or on image
    files and folders (``"photos/"``, a list of paths, read with the model's own transform): one
    prediction per item.

    As the command line's ``predict``, images above ``max_pixels`` are refused before any work
    (``None``: no limit), and files that cannot be read are skipped, each logged as a warning
    with the reason ([`predict_files`][efficientdet_adapter.inference.prediction.predict_files]);
    the predictions then cover the readable items only (``skip_unreadable=False``: the first
    unreadable file raises ``ImageLoadError``).

    The dataset's transform must be deterministic (``tfms.A.resize_and_pad(size)`` plus
    ``tfms.A.Normalize(...)``); boxes come back in the pixels of the original images.
    See [`predict_from_dl`][efficientdet_adapter.inference.prediction.predict_from_dl] for the
    arguments.

    ``num_workers``: processes that read and transform the images while the model runs (the
    DataLoader's); ``None`` picks up to 4 when predicting on a GPU from image files, else 0 (on
    the CPU the workers would take the cores the model computes on).

    ``tile=(h, w)``: predict each image in overlapping ``h`` x ``w`` crops (``overlap``: a
    fraction of the tile or pixels) and merge them with NMS in original pixels, for small objects
    in large images (see [`predict_tiled`][efficientdet_adapter.inference.tiling.predict_tiled];
    the
    tiles use the model's own inference transform); an image that makes more than ``max_tiles``
    tiles (default `MAX_TILES`) is refused.

    Example:
        >>> ds = Dataset.from_images(images, tfms.A.Adapter([*tfms.A.resize_and_pad(384),
        ...                                                  tfms.A.Normalize(mean, std)]))
        >>> preds = predict(model, ds, detection_threshold=0.5)
        >>> preds = predict(model, ds, tile=(384, 384), overlap=0.25)   # small objects
    """
    from efficientdet_adapter.base.arguments import positive_int, probability  # noqa: PLC0415
    from efficientdet_adapter.loop.dataloaders import infer_dl  # noqa: PLC0415
    from efficientdet_adapter.records.dataset import Dataset  # noqa: PLC0415

    probability(detection_threshold, "detection_threshold")
    positive_int(batch_size, "batch_size")
    if is_file_input(dataset):
        done = predict_files(model, dataset, detection_threshold, batch_size=batch_size,
                             device=device, class_map=class_map, max_pixels=max_pixels,
                             tile=tile, overlap=overlap, max_tiles=max_tiles)
        if done.tile_warning:
            logger.warning(done.tile_warning)
        report_skipped(done.skipped, len(done.predictions) + len(done.skipped),
                       len(done.predictions))
        return done.predictions
    if tile is not None:
        from efficientdet_adapter.inference.tiling import MAX_TILES, predict_tiled  # noqa: PLC0415

        tile_tfm = inference_tfm(model)

        def predict_crops(crops: list[Record]) -> list[Prediction]:
            return predict(model, Dataset(crops, tile_tfm), detection_threshold=0.0,
                           batch_size=batch_size, device=device, min_score=min_score)

        preds = predict_tiled(dataset, tile, overlap, detection_threshold,
                              predict_crops=predict_crops, keep_images=keep_images,
                              max_tiles=MAX_TILES if max_tiles is None else max_tiles)
        if class_map is not None:
            preds = [dataclasses.replace(p, class_map=class_map) for p in preds]
        return preds

    dev = to_inference_device(model, device)
    workers = _num_workers(num_workers, dev, dataset, batch_size)

    def run(items: Any) -> list[Prediction]:
        dl = infer_dl(items, batch_size=batch_size, shuffle=False, num_workers=workers,
                      pin_memory=dev.type == "cuda")
        return predict_from_dl(model, dl, show_pbar=show_pbar, keep_images=keep_images,
                               detection_threshold=detection_threshold, min_score=min_score,
                               device=dev, class_map=class_map)

    records = getattr(dataset, "records", None)
    files = [r.filepath for r in records or () if getattr(r, "filepath", None) is not None]
    if max_pixels is not None and files:
        check_pixels(files, max_pixels)
    try:
        return run(dataset)
    except ImageLoadError:
        if not skip_unreadable or records is None or len(files) != len(records):
            raise
    skipped: dict[Path, str] = {}  # a file failed: the others are predicted, it is skipped
    preds = readable_runs(records, lambda chunk: run(Dataset(chunk, dataset.tfm)), batch_size,
                          skipped, name=lambda r: r.filepath)
    report_skipped(skipped, len(records), len(preds))
    return preds


def predict_files(
    model: nn.Module,
    inputs: Sequence[str | Path] | str | Path,
    detection_threshold: float = 0.5,
    *,
    batch_size: int = 8,
    device: str | None = "auto",
    class_map: ClassMap | None = None,
    max_pixels: int | None = DEFAULT_MAX_PIXELS,
    tile: Sequence[int] | None = None,
    overlap: float | int = 0.25,
    max_tiles: int | None = None,
    skip: Path | None = None,
    option_names: dict[str, str] | None = None,
) -> FilePredictions:
    """Predict image files and folders (see the module's docstring).

    Headers are read first (a file that fails is skipped at once); a file whose pixels fail to
    decode makes its batch be retried image by image, so one corrupt file costs its batch a
    second pass, not the run. The caller reports what was skipped (``efficientdet.predict``
    logs each file as a warning; the command line prints it).

    Args:
        inputs: image files and folders (folders are listed recursively).
        max_pixels: refuse (before any work) images with more pixels; ``None``: no limit.
        tile, overlap, max_tiles: as [`predict`][efficientdet_adapter.inference.prediction.predict].
        skip: a folder whose files are not inputs (an output folder inside an input folder).
        option_names: how errors name ``max_pixels``/``max_tiles`` (the command line's flags).

    Raises:
        UsageError: a missing input, a folder without images, an image cut into more than
            ``max_tiles`` tiles.
        ImageLoadError: an image above ``max_pixels``.
    """
    from efficientdet_adapter.inference.prediction import inference_tfm, predict  # noqa: PLC0415
    from efficientdet_adapter.records.dataset import Dataset  # noqa: PLC0415

    names = {"max_pixels": "max_pixels", "max_tiles": "max_tiles", **(option_names or {})}
    files = image_files([inputs] if isinstance(inputs, (str, Path)) else inputs, skip=skip)
    if max_pixels is not None:
        check_pixels(files, max_pixels, option=names["max_pixels"])
    warning = tile_count_warning(files, tile, overlap, max_tiles, option=names["max_tiles"])
    skipped: dict[Path, str] = {}
    good = []
    for f in files:
        try:
            oriented_size(f)
            good.append(f)
        except ImageLoadError as e:
            skipped[f] = str(e)
    tfm = inference_tfm(model)

    def run(chunk: list[Path]) -> list[Prediction]:
        ds = Dataset.from_images(chunk, tfm, class_map=class_map)
        return predict(model, ds, detection_threshold=detection_threshold, batch_size=batch_size,
                       device=device, tile=tile, overlap=overlap, max_tiles=max_tiles,
                       max_pixels=None, skip_unreadable=False)

    preds = readable_runs(good, run, batch_size, skipped, name=lambda f: f)
    for i, p in enumerate(preds):  # ids over the images predicted, as images.json numbers them
        p.record_id = i
    return FilePredictions(preds, skipped, warning)


def inference_tfm(model: nn.Module):
    """The model's inference transform: ``resize_and_pad(img_size)`` + its ``Normalize``.

    Example:
        >>> ds = Dataset.from_images(paths, inference_tfm(model))
    """
    from efficientdet_adapter import tfms  # noqa: PLC0415

    if isinstance(model, OnnxModel):  # resize and pad alike; the graph normalizes
        return model.inference_tfm()
    config = find_bench(model).config
    return tfms.A.Adapter(
        [*tfms.A.resize_and_pad(tuple(config.img_size)),
         tfms.A.Normalize(mean=config.mean, std=config.std)]
    )


def show_results(
    model: nn.Module,
    dataset: Any,
    detection_threshold: float = 0.5,
    num_samples: int = 6,
    ncols: int = 2,
    *,
    device: str | torch.device | None = "auto",
    display_label: bool = True,
    display_score: bool = True,
    save_path: str | Path | None = None,
    cell_size: float = 4.0,
):
    """Ground truth beside prediction for the first ``num_samples`` items of a dataset.

    The dataset's transform must be deterministic (see
    [`predict`][efficientdet_adapter.inference.prediction.predict]); pictures are drawn on
    the original images.

    Example:
        >>> show_results(model, valid_ds, detection_threshold=0.5, save_path="results.png")
    """
    from efficientdet_adapter.records.dataset import Dataset  # noqa: PLC0415

    records = list(getattr(dataset, "records", []))[:num_samples]
    subset = Dataset(records, getattr(dataset, "tfm", None))
    preds = predict(model, subset, detection_threshold=detection_threshold, keep_images=True,
                    device=device)
    return show_preds(preds, ncols, display_label=display_label, display_score=display_score,
                      save_path=save_path, cell_size=cell_size)
