"""Batches for EfficientDet: records -> ``((images, targets), records)``, and the DataLoaders.

A batch is built from transformed records (the items of a
[`Dataset`][efficientdet_adapter.records.dataset.Dataset]), each holding its image in ``img``:

* ``images``: float32 ``[B, 3, H, W]``. Every image of a batch must have the same size (add
  ``tfms.A.resize_and_pad(size)``), and must already be normalized: a uint8 image raises
  [`BatchError`][efficientdet_adapter.base.errors.BatchError] instead of entering the model as 0-255
  pixels
  (add ``tfms.A.Normalize(...)`` with the model's mean and std as the last transform).
* ``targets``: ``{"bbox": [...], "cls": [...]}`` as effdet wants them (see
  `_targets`); validation batches add ``img_size`` and ``img_scale``; with an anchor
  labeler, training and validation batches also carry effdet's precomputed anchor labels.
* ``records``: the transformed records, with their annotations but without their pixels
  (``img`` is ``None``): the pixels travel once, in ``images``, which keeps the worker -> main
  process transfer in shared memory.

Inference batches are ``((images, img_info), records)`` with ``img_info = {"img_size",
"img_scale"}``.

Anchor labeling can run in the loader workers (``train_dl(ds, anchor_labeler=model)``): the
losses are identical, and the model's forward skips its own labeling. It is off by default
because on a CPU it does not pay: the labeler is a small part of a CPU training step
(``bench/anchor_labeling.py``; the figures are in docs/benchmarks.md). Turn
it on for GPU training, where the step is far shorter and the labeler's many small kernels
would otherwise run in the training loop.

The collate functions are module-level functions bound with `functools.partial`, so the
loaders work with ``num_workers > 0`` under both fork and spawn, with ``pin_memory`` and with
``persistent_workers``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path
from typing import Literal, get_args

import numpy as np
import torch
from torch.utils.data import DataLoader

from efficientdet_adapter.records.class_map import ClassMap
from efficientdet_adapter.base.errors import ArgumentError, BatchError
from efficientdet_adapter.records.record import Record
from efficientdet_adapter.records.images import IMAGENET_MEAN, IMAGENET_STD
from efficientdet_adapter.model.ops.targets import anchor_label_targets, img_info, img_size_wh, records_targets, yxyx_to_xyxy
from efficientdet_adapter.model.model import anchor_labeler as make_anchor_labeler  # one implementation, two names

__all__ = [
    "build_train_batch",
    "build_valid_batch",
    "build_infer_batch",
    "train_dl",
    "valid_dl",
    "infer_dl",
    "make_anchor_labeler",
    "stack_images",
    "show_batch",
]

logger = logging.getLogger(__name__)

BatchTfms = Callable[[list[Record]], list[Record]]
#: What a batch does with uint8 images: ``"scale"`` them by 1/255 (IceVision's batches did, and
#: a warning says so once) or ``"refuse"`` them with a BatchError that names the missing
#: ``tfms.A.Normalize()`` (the library's check: the model expects normalized images).
Uint8Images = Literal["scale", "refuse"]
_warned_uint8 = False


# -- records -> tensors -----------------------------------------------------------------------
def _where(record: Record) -> str:
    return str(record.filepath) if record.filepath is not None else f"record {record.record_id!r}"


def _apply_batch_tfms(records: Sequence[Record], batch_tfms) -> list[Record]:
    if batch_tfms is None:
        return list(records)
    fn = getattr(batch_tfms, "batch_tfm", batch_tfms)  # IceVision's BatchTransform protocol
    return list(fn(list(records)))


def _check_image(record: Record, uint8: Uint8Images = "scale") -> np.ndarray:
    img = record.img
    if img is None:
        raise BatchError(
            f"{_where(record)} has no image (img is None): build batches from the items of "
            "Dataset(records, tfm), which load and transform each image"
        )
    img = np.asarray(img)
    if img.ndim != 3 or img.shape[2] != 3:
        raise BatchError(
            f"{_where(record)}: expected an HxWx3 image, got an array of shape {img.shape}"
        )
    if img.dtype == np.uint8 and uint8 == "scale":
        _warn_uint8_once()
        img = img.astype(np.float32) / 255.0
    if not np.issubdtype(img.dtype, np.floating):
        raise BatchError(
            f"{_where(record)}: the image is {img.dtype} (raw pixels), but the model needs "
            "normalized float images; add tfms.A.Normalize() (with the model's mean and std) as "
            "the last transform of the Dataset"
        )
    if (record.height, record.width) != img.shape[:2]:
        raise BatchError(
            f"{_where(record)}: the record says {record.width}x{record.height} (WxH) but its "
            f"image is {img.shape[1]}x{img.shape[0]}; the transform must update width and height"
        )
    return img


def _warn_uint8_once() -> None:
    global _warned_uint8
    if not _warned_uint8:
        _warned_uint8 = True
        logger.warning("a batch has uint8 images: scaled by 1/255, as IceVision's batches were; "
                       "a model trained on normalized images expects tfms.A.Normalize() as the "
                       "Dataset's last transform (pass uint8='refuse' to make this an error)")


def stack_images(records: Sequence[Record], *, uint8: Uint8Images = "scale") -> torch.Tensor:
    """The records' HxWx3 float images as one contiguous float32 ``[B, 3, H, W]`` tensor.

    Args:
        records: records with their images in ``img``.
        uint8: what to do with uint8 images (see `Uint8Images`).

    Raises:
        BatchError: if an image is missing, of another integer dtype than uint8 (or uint8 with
            ``uint8="refuse"``), or if the images differ in size.
    """
    if not records:
        raise BatchError("cannot build a batch from 0 records")
    if uint8 not in get_args(Uint8Images):
        raise ArgumentError(f"uint8={uint8!r} is not one of {list(get_args(Uint8Images))}")
    imgs = [_check_image(r, uint8) for r in records]
    h, w = imgs[0].shape[:2]
    for record, img in zip(records, imgs):
        if img.shape[:2] != (h, w):
            raise BatchError(
                f"images of one batch must have the same size, but {_where(records[0])} is "
                f"{w}x{h} and {_where(record)} is {img.shape[1]}x{img.shape[0]} (WxH); add "
                "tfms.A.resize_and_pad(size) (or tfms.A.aug_tfms(size) for training) to the "
                "Dataset's transforms"
            )
    out = _new_images(len(imgs), h, w)
    dst = out.numpy()
    for i, img in enumerate(imgs):
        dst[i] = img.transpose(2, 0, 1)  # one strided copy per image, casting if needed
    return out


def _new_images(b: int, h: int, w: int) -> torch.Tensor:
    """An empty float32 ``[b, 3, h, w]`` tensor; in a loader worker, in shared memory already
    (as torch's default collate does), which saves the copy into shared memory on the way out."""
    if torch.utils.data.get_worker_info() is None:
        return torch.empty((b, 3, h, w), dtype=torch.float32)
    proto = torch.empty(0, dtype=torch.float32)
    storage = proto._typed_storage()._new_shared(b * 3 * h * w, device="cpu")
    return proto.new(storage).resize_(b, 3, h, w)


def _without_pixels(records: Sequence[Record]) -> list[Record]:
    return [r.copy(img=None) for r in records]


def _check_anchor_size(anchor_labeler, images: torch.Tensor) -> None:
    size = tuple(anchor_labeler.anchors.image_size)
    if tuple(images.shape[-2:]) != size:
        w, h = img_size_wh(*size)
        raise BatchError(
            f"the anchor labeler is for {w}x{h} (WxH) images but the batch is "
            f"{images.shape[-1]}x{images.shape[-2]}; resize to the model's img_size "
            "(tfms.A.resize_and_pad(size)) or build the labeler from this model"
        )


def build_train_batch(
    records: Sequence[Record], batch_tfms: BatchTfms | None = None, *, anchor_labeler=None,
    uint8: Uint8Images = "scale",
):
    """A training batch ``((images, targets), records)`` from transformed records.

    Args:
        records: transformed records with normalized HxWx3 float images in ``img``.
        batch_tfms: optional callable ``list[Record] -> list[Record]`` applied first.
        anchor_labeler: an ``effdet.anchors.AnchorLabeler`` (see
            [`make_anchor_labeler`][efficientdet_adapter.model.model.anchor_labeler]);
            when given, ``targets`` also carry effdet's anchor labels, computed here (in the
            loader workers) instead of in the model's forward.
        uint8: what to do with uint8 images (see `Uint8Images`).

    Example:
        >>> (images, targets), recs = build_train_batch(dataset_items)  # doctest: +SKIP
        >>> images.shape, targets["bbox"][0].shape  # doctest: +SKIP
        (torch.Size([2, 3, 384, 384]), torch.Size([3, 4]))
    """
    records = _apply_batch_tfms(records, batch_tfms)
    images = stack_images(records, uint8=uint8)
    targets: dict = records_targets(records)
    if anchor_labeler is not None:
        _check_anchor_size(anchor_labeler, images)
        targets.update(anchor_label_targets(anchor_labeler, targets["bbox"], targets["cls"]))
    return (images, targets), _without_pixels(records)


def build_valid_batch(
    records: Sequence[Record], batch_tfms: BatchTfms | None = None, *, anchor_labeler=None,
    uint8: Uint8Images = "scale", clip_to_image: bool = False,
):
    """A validation batch:
    [`build_train_batch`][efficientdet_adapter.loop.dataloaders.build_train_batch] plus
    ``img_size`` and ``img_scale``.

    As in IceVision, both are ``None`` by default: effdet's bench in eval mode then returns
    detections in the pixels of the transformed images, unclipped. ``clip_to_image=True`` (what
    ``train`` uses) gives ``img_size`` ``[B, 2]`` (W, H) and ``img_scale`` ``[B]`` (ones), so
    that detections are clipped to the transformed image.
    """
    (images, targets), records = build_train_batch(
        records, batch_tfms, anchor_labeler=anchor_labeler, uint8=uint8
    )
    targets.update(img_info(records) if clip_to_image else {"img_size": None, "img_scale": None})
    return (images, targets), records


def _as_record(item, index: int) -> Record:
    if isinstance(item, Record):
        return item
    img = np.asarray(item)
    if img.ndim != 3:
        raise BatchError(
            f"image {index}: expected a Record or an HxWx3 array, got {type(item).__name__} "
            f"of shape {getattr(img, 'shape', None)}"
        )
    return Record(record_id=index, filepath=None, width=img.shape[1], height=img.shape[0], img=img)


def build_infer_batch(records: Sequence[Record | np.ndarray], batch_tfms: BatchTfms | None = None,
                      *, uint8: Uint8Images = "scale"):
    """An inference batch ``((images, img_info), records)``.

    ``records`` are transformed records (or normalized HxWx3 float arrays, wrapped into records
    with ids 0..B-1); ``img_info`` is ``{"img_size": [B, 2] (W, H), "img_scale": [B] ones}``.
    """
    records = [_as_record(item, i) for i, item in enumerate(records)]
    records = _apply_batch_tfms(records, batch_tfms)
    images = stack_images(records, uint8=uint8)
    return (images, img_info(records)), _without_pixels(records)


# -- DataLoaders ----------------------------------------------------------------------------
def _loader(dataset, collate, dataloader_kwargs) -> DataLoader:
    from efficientdet_adapter.base.arguments import positive_int  # noqa: PLC0415

    if "batch_size" in dataloader_kwargs and dataloader_kwargs["batch_size"] is not None:
        positive_int(dataloader_kwargs["batch_size"], "batch_size")
    if "collate_fn" in dataloader_kwargs:
        raise ArgumentError("the collate_fn is the batch builder; pass batch_tfms= to change batches")
    return DataLoader(dataset, collate_fn=collate, **dataloader_kwargs)


def _labeler_or_none(anchor_labeler):
    return None if anchor_labeler is None else make_anchor_labeler(anchor_labeler)


def train_dl(dataset, batch_tfms: BatchTfms | None = None, *, anchor_labeler=None,
             uint8: Uint8Images = "scale", **dataloader_kwargs) -> DataLoader:
    """A ``torch.utils.data.DataLoader`` of training batches (see
    [`build_train_batch`][efficientdet_adapter.loop.dataloaders.build_train_batch]).

    Args:
        dataset: a [`Dataset`][efficientdet_adapter.records.dataset.Dataset] (or any sequence of
            transformed records).
        batch_tfms: optional callable applied to each batch's records.
        anchor_labeler: the model (or an ``AnchorLabeler``) to compute effdet's anchor labels
            for, in the loader workers; ``None`` leaves the labeling to the model's forward.
        uint8: what to do with uint8 images (see `Uint8Images`).
        **dataloader_kwargs: passed to ``DataLoader`` (``batch_size``, ``shuffle``,
            ``num_workers``, ``pin_memory``, ``persistent_workers``, ...). Unless ``drop_last`` is
            given, a last batch of ONE image is dropped: BatchNorm cannot train on a single
            image (PyTorch raises "Expected more than 1 value per channel"); any other last batch
            is kept.

    Example:
        >>> dl = train_dl(train_ds, batch_size=16, num_workers=2, shuffle=True)  # doctest: +SKIP
    """
    collate = partial(
        build_train_batch, batch_tfms=batch_tfms, anchor_labeler=_labeler_or_none(anchor_labeler),
        uint8=uint8,
    )
    if "drop_last" not in dataloader_kwargs and dataloader_kwargs.get("batch_size", 1) is not None:
        batch_size = dataloader_kwargs.get("batch_size", 1)
        dataloader_kwargs["drop_last"] = len(dataset) > 1 and len(dataset) % batch_size == 1
        if dataloader_kwargs["drop_last"]:
            logger.info(
                "train_dl: %d images in batches of %d leave a last batch of 1 image, which "
                "BatchNorm cannot train on; it is dropped each epoch (pass drop_last=False to keep "
                "it)", len(dataset), batch_size,
            )
    return _loader(dataset, collate, dataloader_kwargs)


def valid_dl(dataset, batch_tfms: BatchTfms | None = None, *, anchor_labeler=None,
             uint8: Uint8Images = "scale", clip_to_image: bool = False,
             **dataloader_kwargs) -> DataLoader:
    """A ``DataLoader`` of validation batches (see
    [`build_valid_batch`][efficientdet_adapter.loop.dataloaders.build_valid_batch],
    [`train_dl`][efficientdet_adapter.loop.dataloaders.train_dl];
    ``clip_to_image=True``: detections clipped to the image, as ``train`` validates)."""
    collate = partial(
        build_valid_batch, batch_tfms=batch_tfms, anchor_labeler=_labeler_or_none(anchor_labeler),
        uint8=uint8, clip_to_image=clip_to_image,
    )
    return _loader(dataset, collate, dataloader_kwargs)


def infer_dl(dataset, batch_tfms: BatchTfms | None = None, *, uint8: Uint8Images = "scale",
             **dataloader_kwargs) -> DataLoader:
    """A ``DataLoader`` of inference batches (see
    [`build_infer_batch`][efficientdet_adapter.loop.dataloaders.build_infer_batch])."""
    collate = partial(build_infer_batch, batch_tfms=batch_tfms, uint8=uint8)
    return _loader(dataset, collate, dataloader_kwargs)


# -- pictures -----------------------------------------------------------------------------------
def show_batch(
    batch,
    ncols: int = 1,
    denormalize: bool = True,
    mean: Sequence[float] = IMAGENET_MEAN,
    std: Sequence[float] = IMAGENET_STD,
    save_path: str | Path | None = None,
    *,
    class_map: ClassMap | None = None,
    display_label: bool = True,
    cell_size: float = 4.0,
):
    """A figure of a batch as the model gets it: its images and its target boxes and classes.

    The boxes drawn are the batch's own ``targets["bbox"]`` (yxyx, turned back to xyxy) with the
    names of ``targets["cls"]``, so a wrong convention shows up in the picture. Inference
    batches show their images only. Normalized images are un-normalized with ``mean``/``std``
    (ImageNet's by default; pass ``mean=(0.5,) * 3, std=(0.5,) * 3`` for lite and ``_ap``
    models).

    Returns:
        a ``matplotlib.figure.Figure``; with ``save_path`` it is also written as a PNG.

    Example:
        >>> show_batch(next(iter(train_dl)), ncols=4, save_path="batch.png")  # doctest: +SKIP
    """
    from efficientdet_adapter.pictures.draw import display_image, draw_boxes, finish, grid  # noqa: PLC0415

    try:
        (images, targets), records = batch
    except (TypeError, ValueError):
        raise BatchError(
            "show_batch expects a batch ((images, targets), records) from train_dl, valid_dl, "
            "infer_dl or build_*_batch"
        ) from None
    records = list(records)
    fig, axes = grid(len(images), ncols, cell_size)
    for i, ax in enumerate(axes):
        record = records[i] if i < len(records) else None
        cm = class_map or (record.class_map if record is not None else None)
        if "bbox" in targets:
            xyxy = yxyx_to_xyxy(targets["bbox"][i].detach().cpu().numpy().reshape(-1, 4))
            ids = [int(c) for c in targets["cls"][i].tolist()]
        else:
            xyxy, ids = np.zeros((0, 4)), []
        names = [cm.get_by_id(c) if cm is not None else str(c) for c in ids]
        title = None
        if record is not None:
            title = str(record.record_id) if record.filepath is None else Path(record.filepath).name
        draw_boxes(
            ax, display_image(images[i], denormalize, mean, std), xyxy,
            names if display_label else None, label_ids=ids or None, title=title,
        )
    return finish(fig, save_path)
