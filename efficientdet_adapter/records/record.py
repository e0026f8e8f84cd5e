"""Record: everything a detection dataset knows about one image.

Upstream of the model, everything speaks records in xyxy pixels (see
[`bbox`][efficientdet_adapter.records.bbox]). A record with
no boxes is a valid negative sample. The image itself loads lazily
([`Record.load_image`][efficientdet_adapter.records.record.Record.load_image]).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Hashable, Sequence
from dataclasses import dataclass, field
from numbers import Integral
from pathlib import Path
from typing import TYPE_CHECKING, Any

from efficientdet_adapter.records.bbox import BBox
from efficientdet_adapter.records.class_map import ClassMap
from efficientdet_adapter.base.errors import AdapterError, ClassMapError, ModelConfigError, UsageError

if TYPE_CHECKING:  # numpy is imported lazily at runtime only where pixels are touched
    import numpy as np

__all__ = ["Record", "ImgSize", "Geometry", "normalize_img_size", "MAX_IMG_SIZE", "IMG_STRIDE"]

#: The lists that hold one value per box.
_PER_BOX = ("labels", "label_ids", "bboxes", "iscrowds", "areas")


@dataclass(frozen=True)
class ImgSize:
    """An image size in pixels (IceVision's ``ImgSize``)."""

    width: int
    height: int


#: The largest input side anyone may ask for (EfficientDet's largest config uses 1536): the
#: command line's limit, and what a checkpoint file may ask for before anchors are allocated.
MAX_IMG_SIZE = 4096
#: ``2**max_level`` of every effdet config: each input side is a multiple of it.
IMG_STRIDE = 128


def _nearest(side: int, stride: int) -> str:
    down = (side // stride) * stride
    up = down + stride
    return f"{down} or {up}" if down > 0 else f"{up}"


def normalize_img_size(
    value: Any,
    *,
    where: str,
    stride: int | None = None,
    max_side: int | None = MAX_IMG_SIZE,
    error: type[AdapterError] = ModelConfigError,
) -> ImgSize:
    """The one reading of an image size: an int (a square), a ``(height, width)`` pair, or an
    [`ImgSize`][efficientdet_adapter.records.record.ImgSize], checked and returned as an ``ImgSize``
    (named fields, so the order is never a guess).

    Args:
        value: the size as given.
        where: what asked for it, for the message (``"model tf_efficientdet_lite0"``,
            ``"--img-size"``, a file name).
        stride: each side must be a multiple of it (``2**max_level``; `IMG_STRIDE` for
            every effdet config), or ``None``.
        max_side: the largest side allowed (`MAX_IMG_SIZE`), or ``None``.
        error: the [`AdapterError`][efficientdet_adapter.base.errors.AdapterError] raised
            (``ModelConfigError``
            by default; a checkpoint reader passes ``CheckpointError``).

    Raises:
        error: the value is not such a size; the message names the nearest valid sides.

    Example:
        >>> normalize_img_size((256, 384), stride=128, where="model")
        ImgSize(width=384, height=256)
        >>> normalize_img_size(512, where="--img-size").height
        512
    """
    if isinstance(value, ImgSize):
        sides: Any = (value.height, value.width)
    else:
        sides = (value, value) if isinstance(value, Integral) else value
    ok = (
        isinstance(sides, Sequence)
        and not isinstance(sides, str)
        and len(sides) == 2
        and all(isinstance(s, Integral) and not isinstance(s, bool) for s in sides)
    )
    if not ok:
        raise error(
            f"img_size must be an int or a (height, width) pair of ints, got {value!r} ({where})"
        )
    height, width = int(sides[0]), int(sides[1])
    shown = str(height) if isinstance(value, Integral) else f"{(height, width)}"
    for side in (height, width):
        if stride is not None and (side <= 0 or side % stride):
            near = _nearest(max(side, 0), stride)
            raise error(
                f"{shown} is not a {'positive ' if side <= 0 else ''}multiple of {stride} "
                f"({where}): each side must be a positive "
                f"multiple of {stride} (2**max_level, EfficientDet's largest stride); nearest "
                f"valid sizes for {side}: {near}; use {near}"
            )
        if side <= 0:
            raise error(f"{shown} is not an image size ({where}): each side must be positive")
        if max_side is not None and side > max_side:
            raise error(
                f"{shown} is larger than {max_side} ({where}; EfficientDet's largest config uses "
                "1536)"
            )
    return ImgSize(width=width, height=height)


@dataclass(frozen=True)
class Geometry:
    """Where a transform put an image: ``x_transformed = x_original * scale_x + offset_x``
    (likewise for y); the image went from size ``source`` to size ``size``.

    Recorded by the transform when it runs
    ([`Adapter`][efficientdet_adapter.tfms.albumentations_adapter.Adapter] writes
    it on the sample it returns, as effdet's loader records ``img_scale``), and read back to map
    predictions onto the original image. Sizes are [`ImgSize`][efficientdet_adapter.records.record.ImgSize]
    (named fields); ``width``/
    ``height`` and ``src_width``/``src_height`` read them.

    Example:
        >>> g = Geometry(0.5, 0.5, 0.0, 8.0, size=ImgSize(64, 64), source=ImgSize(128, 96))
        >>> g.to_original([[0, 8, 64, 56]]).tolist()
        [[0.0, 0.0, 128.0, 96.0]]
    """

    scale_x: float
    scale_y: float
    offset_x: float
    offset_y: float
    size: ImgSize
    source: ImgSize

    @classmethod
    def identity(cls, size: ImgSize) -> "Geometry":
        """No change: an image of ``size`` stays where it is."""
        return cls(1.0, 1.0, 0.0, 0.0, size=size, source=size)

    def then(self, scale_x: float, scale_y: float, offset_x: float, offset_y: float,
             size: ImgSize) -> "Geometry":
        """This geometry followed by one more scale-and-offset step that gives ``size``:
        ``x -> (x * scale + offset) * scale_x + offset_x``."""
        return Geometry(
            scale_x=self.scale_x * scale_x, scale_y=self.scale_y * scale_y,
            offset_x=self.offset_x * scale_x + offset_x,
            offset_y=self.offset_y * scale_y + offset_y, size=size, source=self.source,
        )

    def followed_by(self, other: "Geometry") -> "Geometry":
        """This geometry, then ``other`` (whose ``source`` is this one's ``size``)."""
        return self.then(other.scale_x, other.scale_y, other.offset_x, other.offset_y, other.size)

    @property
    def width(self) -> int:
        return self.size.width

    @property
    def height(self) -> int:
        return self.size.height

    @property
    def src_width(self) -> int:
        return self.source.width

    @property
    def src_height(self) -> int:
        return self.source.height

    def to_original(self, boxes, clip: bool = True) -> "np.ndarray":
        """``[N, 4]`` xyxy boxes of the transformed image in pixels of the original image."""
        import numpy as np  # noqa: PLC0415

        b = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
        scale = np.array([self.scale_x, self.scale_y] * 2)
        offset = np.array([self.offset_x, self.offset_y] * 2)
        out = (b - offset) / scale
        if clip:
            out = np.clip(out, 0, [self.src_width, self.src_height] * 2)
        return out

    def to_transformed(self, boxes) -> "np.ndarray":
        """``[N, 4]`` xyxy boxes of the original image in pixels of the transformed image."""
        import numpy as np  # noqa: PLC0415

        b = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
        scale = np.array([self.scale_x, self.scale_y] * 2)
        offset = np.array([self.offset_x, self.offset_y] * 2)
        return b * scale + offset


@dataclass(eq=False)
class Record:
    """One image and its annotations.

    Attributes:
        record_id: unique id within the dataset (an int from a parser, or whatever a custom
            parser returns from ``record_id``).
        filepath: the image file, or ``None`` for an in-memory image (``img`` set).
        width, height: image size in pixels, as the annotation states (or as read from the file
            header when the annotation has none).
        labels: class names, one per box.
        label_ids: class-map ids, one per box (1-based when the class map has a background).
        bboxes: boxes in absolute xyxy pixels of this image.
        iscrowds: COCO's crowd flags, one per box, or ``None`` when the format has none.
        areas: COCO's annotation areas (segmentation areas), or ``None``.
        img: the loaded HxWx3 uint8 RGB image, when it has been loaded or given.
        class_map: the map that ``label_ids`` refer to, when known.
        geometry: on a transformed sample, the resize and padding its transform applied
            ([`Geometry`][efficientdet_adapter.records.record.Geometry], recorded when it ran), or ``None``
            (not transformed, or by a
            transform that is not a scale and an offset).

    Example:
        >>> r = Record(record_id=0, filepath=None, width=64, height=48)
        >>> r.add_bboxes([BBox.from_xyxy(1, 2, 30, 40)]); r.add_labels(["cat"])
        >>> r.num_objects
        1
    """

    record_id: Hashable
    filepath: Path | None
    width: int
    height: int
    labels: list[str] = field(default_factory=list)
    label_ids: list[int] = field(default_factory=list)
    bboxes: list[BBox] = field(default_factory=list)
    iscrowds: list[bool] | None = None
    areas: list[float] | None = None
    img: "np.ndarray | None" = field(default=None, repr=False)
    class_map: ClassMap | None = field(default=None, repr=False)
    geometry: Geometry | None = field(default=None, repr=False)
    #: IceVision's flag: True until a parser or ``RecordCollection.get_by_record_id`` meets the
    #: record a second time.
    is_new: bool = field(default=True, init=False, repr=False, compare=False)

    # -- reading ---------------------------------------------------------------------------
    @property
    def num_objects(self) -> int:
        return len(self.bboxes)

    @property
    def img_size(self) -> ImgSize:
        return ImgSize(self.width, self.height)

    @property
    def detection(self) -> "Record":
        """This record itself: lets IceVision code such as ``record.detection.bboxes`` run."""
        return self

    _DICT_KEYS = ("imageid", "filepath", "width", "height", "img", "labels", "bboxes", "iscrowds",
                  "areas")

    def __getitem__(self, key: str):
        """IceVision 0.x read records as dicts: ``sample["img"]``, ``sample["bboxes"]``...
        (``"imageid"`` is the ``record_id``)."""
        if key not in self._DICT_KEYS:
            raise KeyError(f"{key!r}: a Record read as a dict has keys {self._DICT_KEYS}")
        return self.record_id if key == "imageid" else getattr(self, key)

    def load_image(self) -> "np.ndarray":
        """The image as an HxWx3 uint8 RGB array (EXIF orientation applied); cached in ``img``."""
        if self.img is None:
            from efficientdet_adapter.records.images import open_img  # local import: keeps `import records` light  # noqa: PLC0415

            if self.filepath is None:
                raise UsageError(f"record {self.record_id!r} has neither a filepath nor an image")
            self.img = open_img(self.filepath)
        return self.img

    def copy(self, **changes) -> "Record":
        """A copy with its own lists (the image array is shared, not copied), with ``changes``."""
        lists = {
            "labels": list(self.labels),
            "label_ids": list(self.label_ids),
            "bboxes": list(self.bboxes),
            "iscrowds": None if self.iscrowds is None else list(self.iscrowds),
            "areas": None if self.areas is None else list(self.areas),
        }
        lists.update(changes)
        return dataclasses.replace(self, **lists)

    def select(self, indices: Sequence[int]) -> "Record":
        """A copy holding only the boxes at ``indices`` (in that order), with their labels,
        label ids, crowd flags and areas; a per-box list of another length than the boxes (e.g.
        ``label_ids`` not resolved yet) is kept as it is. The image array is shared.

        Example:
            >>> r = Record(0, None, 64, 48, labels=["a", "b"], label_ids=[1, 2],
            ...            bboxes=[BBox.from_xyxy(0, 0, 9, 9), BBox.from_xyxy(5, 5, 20, 20)])
            >>> s = r.select([1]); s.labels, s.label_ids, s.bboxes[0].xyxy
            (['b'], [2], (5.0, 5.0, 20.0, 20.0))
        """
        n = len(self.bboxes)
        idx = [int(i) for i in indices]

        def pick(values):
            return values if values is None or len(values) != n else [values[i] for i in idx]

        return self.copy(**{name: pick(getattr(self, name)) for name in _PER_BOX})

    def __eq__(self, other: object) -> bool:
        """Equal annotations (the loaded pixels and the recorded geometry are not compared)."""
        if not isinstance(other, Record):
            return NotImplemented
        names = [f.name for f in dataclasses.fields(self)
                 if f.name not in ("img", "class_map", "geometry", "is_new")]
        return all(getattr(self, n) == getattr(other, n) for n in names)

    # -- IceVision's BaseRecord: reading -------------------------------------------------------
    def as_dict(self) -> dict:
        """IceVision's ``record.as_dict()``: ``{"common": {...}, "detection": {...}}``."""
        common = {"record_id": self.record_id, "filepath": self.filepath, "img": self.img,
                  "width": self.width, "height": self.height}
        detection = {"class_map": self.class_map, "labels": list(self.labels),
                     "label_ids": list(self.label_ids), "bboxes": list(self.bboxes)}
        if self.iscrowds is not None:
            detection["iscrowds"] = list(self.iscrowds)
        if self.areas is not None:
            detection["areas"] = list(self.areas)
        return {"common": common, "detection": detection}

    def num_annotations(self) -> dict[str, dict[str, int]]:
        """How many items each annotation list holds, by task (IceVision's check before autofix).

        Example:
            >>> Record(0, None, 8, 8, labels=["a"]).num_annotations()
            {'detection': {'labels': 1, 'bboxes': 0}}
        """
        counts = {"labels": len(self.labels), "bboxes": len(self.bboxes)}
        for name in ("iscrowds", "areas"):
            if getattr(self, name) is not None:
                counts[name] = len(getattr(self, name))
        return {"detection": counts}

    def load(self) -> "Record":
        """A copy with the image loaded (IceVision's ``record.load()``; the record is unchanged)."""
        loaded = self.copy()
        loaded.load_image()
        return loaded

    def unload(self) -> None:
        """Drop the loaded image (``img = None``); a record with no file keeps its image."""
        if self.filepath is not None:
            self.img = None

    def autofix(self) -> dict[str, dict[str, list[bool]]]:
        """Clip the boxes to the image ([`BBox.clipped`][efficientdet_adapter.records.bbox.BBox.clipped])
        and drop, with their labels, label
        ids, crowd flags and areas, those with no area left or a non-finite coordinate, in
        place (IceVision's ``record.autofix()``; parsers do this with a report, see
        ``Parser.parse``).

        Returns:
            ``{"detection": {"bboxes": [kept, ...]}}``: one flag per box, as IceVision's.

        Example:
            >>> r = Record(0, None, 10, 10, labels=["a", "b"],
            ...            bboxes=[BBox.from_xyxy(5, 5, 20, 20), BBox.from_xyxy(11, 11, 15, 15)])
            >>> r.autofix(), r.labels, r.bboxes[0].xyxy
            ({'detection': {'bboxes': [True, False]}}, ['a'], (5.0, 5.0, 10, 10))
        """
        import math  # noqa: PLC0415

        from efficientdet_adapter.base.errors import InvalidBBoxError  # noqa: PLC0415

        kept: list[bool] = []
        boxes: list[BBox] = []
        for box in self.bboxes:
            try:
                if not all(math.isfinite(v) for v in box.xyxy):
                    raise InvalidBBoxError(f"box {box.xyxy}: a coordinate is not finite")
                boxes.append(box.clipped(self.width, self.height))
                kept.append(True)
            except InvalidBBoxError:
                boxes.append(box)
                kept.append(False)
        self.bboxes = boxes
        if not all(kept):
            fixed = self.select([i for i, k in enumerate(kept) if k])
            self.bboxes, self.labels, self.label_ids = fixed.bboxes, fixed.labels, fixed.label_ids
            self.iscrowds, self.areas = fixed.iscrowds, fixed.areas
        return {"detection": {"bboxes": kept}}

    # -- building (the calls a custom Parser's ``parse_fields`` makes, as in IceVision) -------
    def set_record_id(self, record_id: Hashable) -> None:
        self.record_id = record_id

    def set_img(self, img) -> None:
        """An in-memory image (HxWx3 array or PIL image); sets ``width, height`` from it."""
        import numpy as np  # noqa: PLC0415

        arr = np.asarray(img)
        self.img = arr
        self.height, self.width = int(arr.shape[0]), int(arr.shape[1])

    def set_image_size(self, width: int, height: int) -> None:
        self.width, self.height = int(width), int(height)

    def set_labels(self, labels: Sequence[str]) -> None:
        self.labels = list(labels)

    def set_labels_by_id(self, label_ids: Sequence[int]) -> None:
        """Set ``label_ids`` (and ``labels``, by the class map when the record has one)."""
        self.label_ids = [int(i) for i in label_ids]
        if self.class_map is not None:
            self.labels = [self.class_map.get_by_id(i) for i in self.label_ids]

    def add_labels_by_id(self, label_ids: Sequence[int]) -> None:
        self.set_labels_by_id([*self.label_ids, *label_ids])

    def set_bboxes(self, bboxes: Sequence[BBox]) -> None:
        self.bboxes = list(bboxes)

    def set_iscrowds(self, iscrowds: Sequence[bool]) -> None:
        self.iscrowds = [bool(c) for c in iscrowds]

    def set_areas(self, areas: Sequence[float]) -> None:
        self.areas = [float(a) for a in areas]


    def set_filepath(self, filepath: str | Path) -> None:
        self.filepath = Path(filepath)

    def set_img_size(self, size: ImgSize | Sequence[int]) -> None:
        """Set ``width, height`` from an [`ImgSize`][efficientdet_adapter.records.record.ImgSize] or a
        ``(width, height)`` pair."""
        if isinstance(size, ImgSize):
            self.width, self.height = size.width, size.height
        else:
            self.width, self.height = int(size[0]), int(size[1])

    def set_class_map(self, class_map: ClassMap) -> None:
        self.class_map = class_map

    def add_bboxes(self, bboxes: Sequence[BBox]) -> None:
        self.bboxes.extend(bboxes)

    def add_labels(self, labels: Sequence[str]) -> None:
        """Add class names; ``label_ids`` are filled from the class map when the parse ends."""
        self.labels.extend(labels)

    def add_iscrowds(self, iscrowds: Sequence[bool]) -> None:
        self.iscrowds = (self.iscrowds or []) + [bool(c) for c in iscrowds]

    def add_areas(self, areas: Sequence[float]) -> None:
        self.areas = (self.areas or []) + [float(a) for a in areas]

    def resolve_label_ids(self, class_map: ClassMap) -> None:
        """Set ``label_ids`` from ``labels`` through ``class_map``, naming any unknown class."""
        try:
            self.label_ids = [class_map._class2id[name] for name in self.labels]
        except KeyError as e:
            raise ClassMapError(
                f"{self.filepath or self.record_id}: class {e.args[0]!r} is not in the class map "
                f"{class_map.get_classes()}"
            ) from None
        self.class_map = class_map
