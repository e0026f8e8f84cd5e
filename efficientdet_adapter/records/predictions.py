"""Prediction: what the model found in one image, with every score kept.

Downstream of the model, everything speaks predictions. A
[`Prediction`][efficientdet_adapter.records.predictions.Prediction] stores all the
detections the model returned (boxes in absolute xyxy pixels, scores, class-map label ids) and a
``detection_threshold``; the thresholded views (`bboxes`, `labels`, ...) apply it on
read, so `with_threshold` re-thresholds without running the model again.

Which module holds what: this one holds the
    [`Prediction`][efficientdet_adapter.records.predictions.Prediction] *data type*, with no model in
sight (metrics, writers and pictures import it); running a model to get predictions
(``predict``, ``predict_from_dl``, ``end2end_detect``) is
[`efficientdet_adapter.inference.prediction`][efficientdet_adapter.inference.prediction]. Both
names are public (IceVision code imports
``efficientdet.predict``), so neither module is renamed.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Hashable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np

from efficientdet_adapter.records.bbox import BBox
from efficientdet_adapter.records.class_map import ClassMap
from efficientdet_adapter.records.record import Record
from efficientdet_adapter.base.errors import ArgumentError

__all__ = ["Prediction", "KeptDetections", "set_drawer"]

#: What ``Prediction["img"]`` draws with: ``pictures.draw.draw_record``, which registers itself
#: when it is imported (the drawing sits above the records it draws; the package imports it).
_drawer: Callable[[Any], np.ndarray] | None = None


def set_drawer(draw: Callable[[Any], np.ndarray]) -> None:
    """Register the function that draws a prediction into an image array (``p["img"]``)."""
    global _drawer
    _drawer = draw


@dataclass(frozen=True)
class KeptDetections:
    """IceVision's ``pred.detection``: the kept detections only, every attribute aligned.

    Example:
        >>> p = Prediction(boxes=[[0, 0, 4, 4], [1, 1, 9, 9]], scores=[0.9, 0.2], label_ids=[1, 1])
        >>> len(p.detection), p.detection.scores.tolist(), len(p.scores)
        (1, [0.8999999761581543], 2)
    """

    bboxes: list[BBox]
    scores: np.ndarray
    label_ids: list[int]
    labels: list[str]
    class_map: ClassMap | None = None

    def __len__(self) -> int:
        return len(self.bboxes)


def _as_array(x, dtype, shape_tail=()) -> np.ndarray:
    arr = np.asarray(x, dtype=dtype)
    return arr.reshape((-1, *shape_tail)) if arr.size or shape_tail else arr.reshape(0)


@dataclass(eq=False)
class Prediction:
    """Detections for one image.

    Two kinds of attributes, told apart by name:

    ==============================  ===============================================================
    every detection stored          ``boxes`` (array), ``scores``, ``label_ids`` (fields)
    only those >= the threshold     ``bboxes`` (``BBox`` list), ``kept_boxes``, ``kept_scores``,
                                    ``kept_label_ids``, ``labels`` (names), ``len(pred)``
    ==============================  ===============================================================

    So ``pred.scores`` is NOT aligned with ``pred.bboxes``: pair ``bboxes`` with ``kept_scores``
    (or ``boxes`` with ``scores``). Metrics and ``with_threshold`` read every detection; pictures,
    IceVision's ``pred.detection``
    ([`KeptDetections`][efficientdet_adapter.records.predictions.KeptDetections]), its ``p["detection"]``
    dict and
    ``len(pred)`` read the kept ones.

    Attributes:
        boxes: ``[N, 4]`` float32 xyxy boxes in pixels of the image the prediction refers to
            (the original image for
            [`efficientdet.predict`][efficientdet_adapter.inference.prediction.predict]; the
            transformed image inside
            a validation loop, where ``ground_truth`` is the transformed record). All N
            detections, whatever their score.
        scores: ``[N]`` float32 confidences of all N detections, highest first (the kept ones:
            [`kept_scores`][efficientdet_adapter.records.predictions.Prediction.kept_scores]).
        label_ids: ``[N]`` int64 class-map ids of all N detections (1-based when the class map
            has a background; the kept ones:
            [`kept_label_ids`][efficientdet_adapter.records.predictions.Prediction.kept_label_ids]).
        detection_threshold: boxes scoring below it are hidden by the thresholded views.
        class_map: names for ``label_ids``, when known.
        ground_truth: the record these detections are compared with, when there is one.
        record_id, filepath, width, height: which image this is and its size in pixels.
        img: the image, when ``keep_images=True`` was asked for.
    """

    boxes: np.ndarray
    scores: np.ndarray
    label_ids: np.ndarray = None  # type: ignore[assignment]  # None only in IceVision's form
    detection_threshold: float = 0.5
    class_map: ClassMap | None = None
    ground_truth: Record | None = None
    record_id: Hashable | None = None
    filepath: Path | None = None
    width: int | None = None
    height: int | None = None
    img: np.ndarray | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if isinstance(self.boxes, Record):  # IceVision's Prediction(pred_record, ground_truth)
            self._from_records(self.boxes, self.scores)
        elif self.label_ids is None:
            raise ArgumentError("Prediction needs boxes, scores and label_ids (or IceVision's "
                                "Prediction(pred_record, ground_truth_record))")
        self.boxes = _as_array(self.boxes, np.float32, (4,))
        self.scores = _as_array(self.scores, np.float32)
        self.label_ids = _as_array(self.label_ids, np.int64)
        if not (len(self.boxes) == len(self.scores) == len(self.label_ids)):
            raise ArgumentError(
                f"boxes, scores and label_ids must have one row per detection; got "
                f"{len(self.boxes)}, {len(self.scores)} and {len(self.label_ids)}"
            )
        if self.ground_truth is not None:
            gt = self.ground_truth
            self.record_id = gt.record_id if self.record_id is None else self.record_id
            self.filepath = gt.filepath if self.filepath is None else self.filepath
            self.width = gt.width if self.width is None else self.width
            self.height = gt.height if self.height is None else self.height
            if self.class_map is None:
                self.class_map = gt.class_map

    def _from_records(self, pred: Record, ground_truth: Any) -> None:
        """IceVision's form: the detections of a record (its boxes, label ids and, from a scores
        component, scores; 1.0 without one), all kept (IceVision's prediction records held only
        the detections above its threshold)."""
        self.ground_truth = ground_truth if isinstance(ground_truth, Record) else None
        scores = getattr(pred, "scores", None)
        self.boxes = [b.xyxy for b in pred.bboxes]
        self.scores = np.ones(len(pred.bboxes)) if scores is None else scores
        self.label_ids = list(pred.label_ids)
        self.detection_threshold = 0.0
        self.class_map = self.class_map or pred.class_map

    # -- thresholded views -----------------------------------------------------------------
    @property
    def keep(self) -> np.ndarray:
        """Boolean mask of the detections at or above ``detection_threshold``."""
        return self.scores >= self.detection_threshold

    @property
    def bboxes(self) -> list[BBox]:
        """The kept detections' boxes as ``BBox`` (IceVision's name; aligned with
        [`kept_scores`][efficientdet_adapter.records.predictions.Prediction.kept_scores] and
        [`labels`][efficientdet_adapter.records.predictions.Prediction.labels], not with `scores`)."""
        return [BBox.from_xyxy(*b) for b in self.kept_boxes.tolist()]

    @property
    def kept_boxes(self) -> np.ndarray:
        """``[M, 4]`` float32 xyxy boxes of the kept detections (``boxes`` holds all of them)."""
        return self.boxes[self.keep]

    @property
    def kept_scores(self) -> np.ndarray:
        """Scores of the kept detections (``scores`` holds all of them)."""
        return self.scores[self.keep]

    @property
    def kept_label_ids(self) -> list[int]:
        """Label ids of the kept detections (``label_ids`` holds all of them)."""
        return self.label_ids[self.keep].tolist()

    @property
    def labels(self) -> list[str]:
        """Class names of the kept detections (ids as strings when there is no class map)."""
        ids = self.kept_label_ids
        if self.class_map is None:
            return [str(i) for i in ids]
        return [self.class_map.get_by_id(i) for i in ids]

    def __len__(self) -> int:
        """The number of kept detections (``len(pred.scores)`` counts them all)."""
        return int(self.keep.sum())

    def with_threshold(self, detection_threshold: float) -> "Prediction":
        """The same detections seen through another threshold (the model does not run again)."""
        return dataclasses.replace(self, detection_threshold=float(detection_threshold))

    # -- IceVision's views ------------------------------------------------------------------
    @property
    def pred(self) -> "Prediction":
        """IceVision's ``prediction.pred`` (the predicted record): this prediction itself, so
        ``p.pred.detection.bboxes`` reads the kept boxes."""
        return self

    @property
    def detection(self) -> KeptDetections:
        """IceVision's ``pred.detection``: the kept detections, with ``bboxes``, ``scores``,
        ``label_ids`` and ``labels`` aligned row for row, as in IceVision (``pred.scores`` holds
        every detection; ``pred.detection.scores`` only the kept ones)."""
        return KeptDetections(bboxes=self.bboxes, scores=self.kept_scores,
                              label_ids=self.kept_label_ids, labels=self.labels,
                              class_map=self.class_map)

    _DICT_KEYS = ("detection", "img", "width", "height")

    def keys(self) -> tuple[str, ...]:
        return self._DICT_KEYS

    def __getitem__(self, key: str):
        """IceVision's ``end2end_detect`` dict: ``p["detection"]`` (``bboxes``, ``scores``,
        ``labels``, ``label_ids`` of the kept detections), ``p["img"]`` (the image with them
        drawn, a PIL image), ``p["width"]``, ``p["height"]``."""
        if key == "detection":
            det = self.detection
            return {"bboxes": det.bboxes, "scores": det.scores, "labels": det.labels,
                    "label_ids": det.label_ids}
        if key == "img":
            from PIL import Image  # noqa: PLC0415

            if _drawer is None:
                raise KeyError("img: no drawing function is registered (import efficientdet_adapter)")
            return Image.fromarray(_drawer(self))
        if key in ("width", "height"):
            return getattr(self, key)
        raise KeyError(f"{key!r}: a Prediction read as IceVision's dict has keys {self._DICT_KEYS}")
