"""``tfms.A.Adapter``: a list of albumentations transforms as ``record -> transformed copy``,
with the geometry it applied recorded on the sample (to map predicted boxes back); and
``geometry``, that record for an image size without a real image."""

from __future__ import annotations

import functools
import os
import sys
import warnings
from collections.abc import Sequence

import numpy as np

from efficientdet_adapter.base.errors import UsageError
from efficientdet_adapter.base.version_compat import import_quietly
from efficientdet_adapter.records.bbox import BBox
from efficientdet_adapter.records.record import Geometry, ImgSize, Record

_albu = import_quietly("albumentations")

__all__ = ["Adapter", "geometry"]


class Adapter:
    """A callable ``record -> transformed copy`` over a list of albumentations transforms.

    The image comes from ``record.load_image()`` on a copy, so the parsed record is never
    changed nor made to hold pixels. Boxes (xyxy pixels) follow the image; a box pushed partly
    out of the image is clipped, one pushed entirely out is dropped together with its label,
    label id, crowd flag and area, so every list stays aligned. ``areas`` are scaled by how
    much the box area changed. ``width``/``height`` are the new image size.

    Random transforms draw from the Adapter's own generator, reseeded in every new process
    (a DataLoader worker uses its torch worker seed), so workers do not repeat each other.

    Args:
        tfms: albumentations transforms, applied in order.
        min_visibility: drop boxes that keep less than this fraction of their area.

    Example:
        >>> tfm = Adapter([HorizontalFlip(p=1.0)])
        >>> flipped = tfm(record)          # record is untouched; flipped.img holds the pixels
    """

    def __init__(self, tfms: Sequence[_albu.BasicTransform], *, min_visibility: float = 0.0):
        self.tfms = list(tfms)
        self.min_visibility = float(min_visibility)
        with warnings.catch_warnings():  # an all-pixel list (e.g. [Normalize()]) is fine too
            warnings.filterwarnings("ignore", message="Got processor for bboxes")
            self._pipeline = self._compose()
        self._pid = os.getpid()

    @property
    def tfms_list(self) -> list:
        """The albumentations transforms, in order (IceVision's ``Adapter.tfms_list``)."""
        return self.tfms

    def create_tfms(self) -> _albu.Compose:
        """The ``A.Compose`` this adapter runs (IceVision's ``Adapter.create_tfms``)."""
        return self._compose(record=False)

    def _compose(self, record: bool = True) -> _albu.Compose:
        return _albu.Compose(
            self.tfms,
            bbox_params=_albu.BboxParams(
                format="pascal_voc",
                label_fields=["box_index"],
                min_visibility=self.min_visibility,
                clip=True,
                filter_invalid_bboxes=True,
            ),
            save_applied_params=record,  # what each step did: the sample's geometry is read off it
        )

    def __repr__(self) -> str:
        names = ", ".join(type(t).__name__ for t in self.tfms)
        return f"Adapter([{names}])"

    def seed(self, seed: int | None) -> None:
        """Make the random transforms reproducible (in this process)."""
        self._pipeline.set_random_seed(seed)
        self._pid = os.getpid()

    def _reseed_if_forked(self) -> None:
        if os.getpid() == self._pid:
            return
        seed = None
        torch_data = _loaded_torch_data()
        info = torch_data.get_worker_info() if torch_data is not None else None
        if info is not None:
            seed = int(info.seed) % (2**32)
        self.seed(seed)

    def apply(self, img: np.ndarray, boxes: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Transform an image and its ``[N, 4]`` xyxy boxes.

        Returns:
            ``(image, boxes [M, 4] float64, kept [M] int)``: ``kept`` are the input rows the
            output boxes come from (a box can be dropped, or, with a reflect border, repeated).
        """
        image, new_boxes, kept, _ = self._run(img, boxes)
        return image, new_boxes, kept

    def _run(self, img: np.ndarray, boxes: np.ndarray
             ) -> tuple[np.ndarray, np.ndarray, np.ndarray, Geometry | None]:
        """[`apply`][efficientdet_adapter.tfms.albumentations_adapter.Adapter.apply], and the
        geometry of what the pipeline did to this image."""
        self._reseed_if_forked()
        boxes = np.asarray(boxes, dtype=np.float32).reshape(-1, 4)
        out = self._pipeline(image=img, bboxes=boxes, box_index=np.arange(len(boxes)))
        kept = np.asarray(out["box_index"]).astype(np.int64).reshape(-1)
        new_boxes = np.asarray(out["bboxes"], dtype=np.float64).reshape(-1, 4)[:, :4]
        geo = _recorded(out.get("applied_transforms", ()), img.shape, out["image"].shape,
                        self._kinds)
        return out["image"], new_boxes, kept, geo

    @functools.cached_property
    def _kinds(self) -> dict[str, str] | None:
        """Each top-level transform's class name -> ``"pixels"``, ``"resize"``, ``"pad"`` or
        ``"other"``; ``None`` when a container (``OneOf``, ``OneOrOther``...) hides its steps
        from albumentations' record of what it applied."""
        if any(isinstance(t, _albu.BaseCompose) for t in self.tfms):
            return None
        return {type(t).__name__: _kind(t) for t in self.tfms}

    def __call__(self, record: Record) -> Record:
        img = record.copy().load_image()  # loaded into a copy: the record keeps no pixels
        n = len(record.bboxes)
        boxes = np.array([b.xyxy for b in record.bboxes], dtype=np.float32).reshape(n, 4)
        image, new_boxes, kept, geo = self._run(img, boxes)
        idx = kept.tolist()
        out = record.select(idx)  # the surviving boxes' labels, ids, crowd flags and areas
        out.img = image
        out.height, out.width = int(image.shape[0]), int(image.shape[1])
        # the sample's geometry from the original record: an earlier step's (a resize fix when
        # loading, an earlier transform) followed by this one; None once a step is not a
        # scale and an offset
        if geo is not None and record.geometry is not None:
            geo = record.geometry.followed_by(geo)
        elif geo is not None and (img.shape[1], img.shape[0]) != (record.width, record.height):
            geo = None  # the record does not say where its pixels came from
        out.geometry = geo
        out.bboxes = [BBox.from_xyxy(*b) for b in new_boxes.tolist()]
        out.label_ids = [int(i) for i in out.label_ids]
        if record.areas is not None and len(record.areas) == n:
            old = [record.bboxes[i].area for i in idx]
            out.areas = [
                float(area) * (b.area / a if a > 0 else 1.0)
                for area, a, b in zip(out.areas, old, out.bboxes)
            ]
        return out


def _loaded_torch_data():
    return sys.modules.get("torch.utils.data")


# -- geometry: recorded as the pipeline runs ------------------------------------------------
_RESIZES = (_albu.LongestMaxSize, _albu.SmallestMaxSize, _albu.Resize)


def _kind(t: _albu.BasicTransform) -> str:
    if isinstance(t, _albu.ImageOnlyTransform):
        return "pixels"  # pixel values only (Normalize, colour, blur...)
    if isinstance(t, _RESIZES):
        return "resize"
    if isinstance(t, _albu.PadIfNeeded):
        return "pad"
    return "other"


def _recorded(applied: Sequence[tuple[str, dict]], in_shape: tuple[int, ...],
              out_shape: tuple[int, ...], kinds: dict[str, str] | None) -> Geometry | None:
    """The geometry of one run from albumentations' record of it (``applied_transforms``: each
    step that ran, with the shape it got; a resize scales by the shape it gave, a pad offsets
    by the padding it reports), or ``None`` when a step is not a scale and an offset."""
    if kinds is None:
        return None
    geo = Geometry.identity(ImgSize(width=int(in_shape[1]), height=int(in_shape[0])))
    for k, (name, params) in enumerate(applied):
        h, w = (int(v) for v in params["shape"][:2])
        nh, nw = (int(v) for v in (applied[k + 1][1]["shape"] if k + 1 < len(applied)
                                   else out_shape)[:2])
        size = ImgSize(width=nw, height=nh)
        kind = kinds.get(name, "other")
        if kind == "resize":
            geo = geo.then(nw / w, nh / h, 0.0, 0.0, size)
        elif kind == "pad":
            geo = geo.then(1.0, 1.0, float(params["pad_left"]), float(params["pad_top"]), size)
        elif kind != "pixels" or (nh, nw) != (h, w):
            return None
    return geo


def _not_deterministic(t: _albu.BasicTransform) -> str | None:
    """Why ``t`` may move an image differently each time (``None``: it never does)."""
    kind = _kind(t)
    if kind == "pixels":
        return None
    if getattr(t, "p", 1.0) < 1.0:
        return f"{type(t).__name__}(p={t.p}) is applied at random"
    if kind == "resize" and not isinstance(t, _albu.Resize) and t.max_size is not None \
            and not isinstance(t.max_size, int):
        return f"{type(t).__name__}(max_size={t.max_size!r}) picks a size at random"
    if kind == "pad" and t.position == "random":
        return f"PadIfNeeded(position={t.position!r}) places the image at random"
    if kind == "other":
        return f"{type(t).__name__} is random, crops, flips or rotates the image"
    return None


def geometry(adapter: Adapter, width: int, height: int) -> Geometry:
    """The scale and offset that ``adapter`` applies to a ``width`` x ``height`` image: the
    [`Geometry`][efficientdet_adapter.records.record.Geometry] it records on a sample of that size
    (each transformed sample carries its own in ``sample.geometry``; prediction reads that).

    The pipeline runs once on a blank image of that size, so the sizes are albumentations' own.

    Raises:
        UsageError: if a transform is random, crops, flips or rotates (no one scale-and-offset
            for every image), or is not a resize, pad or pixel-only transform.

    Example:
        >>> g = geometry(Adapter(resize_and_pad(384)), width=640, height=480)
        >>> (g.scale_x, g.offset_y, g.size)
        (0.6, 48.0, ImgSize(width=384, height=384))
    """
    reasons = [r for t in getattr(adapter, "tfms", ()) if (r := _not_deterministic(t))]
    if isinstance(adapter, Adapter) and adapter._kinds is None:
        reasons.append("a container (OneOf, OneOrOther...) picks its steps at random")
    if reasons:
        raise UsageError(
            f"{adapter!r}: {reasons[0]}; geometry() needs a deterministic resize/pad pipeline "
            "such as resize_and_pad(size) (no scale-and-offset inverse otherwise)")
    source = ImgSize(width=int(width), height=int(height))
    if not isinstance(adapter, Adapter):
        steps = list(getattr(adapter, "tfms", ()))
        if not steps:  # a transform with no albumentations steps: nothing moves
            return Geometry.identity(source)
        adapter = Adapter(steps)
    blank = np.zeros((source.height, source.width, 3), np.uint8)
    geo = adapter._run(blank, np.zeros((0, 4), np.float32))[3]
    if geo is None:  # not reached: every step was checked above to be a scale and an offset
        raise UsageError(f"{adapter!r}: albumentations did not report a resize/pad geometry")
    return geo
