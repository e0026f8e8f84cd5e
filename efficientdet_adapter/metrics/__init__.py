"""Metrics: IceVision's engine-agnostic protocol and an exact COCO box metric.

A [`Metric`][efficientdet_adapter.metrics.Metric] collects predictions batch by batch
([`Metric.accumulate`][efficientdet_adapter.metrics.Metric.accumulate]) and turns them
into named numbers at the end of a validation pass
([`Metric.finalize`][efficientdet_adapter.metrics.Metric.finalize]), whatever loop runs
it (fastai, Lightning or a plain ``for``). [`COCOMetric`][efficientdet_adapter.metrics.COCOMetric]
scores boxes with pycocotools'
``COCOeval`` itself, so its numbers are the official COCO numbers.

How [`COCOMetric`][efficientdet_adapter.metrics.COCOMetric] builds COCO's inputs (each rule is
tested in ``tests/test_metrics.py``):

* Detections: every detection a [`Prediction`][efficientdet_adapter.records.predictions.Prediction] stores
  is scored, not
  only those above its ``detection_threshold``: COCO ranks detections by score and needs the
  low-scoring ones for the precision/recall curve. Rows with a score ``<= 0`` (effdet's zero
  padding) are dropped. COCO keeps the 100 best per image and class (``maxDets``).
* Ground truth: ``record.iscrowds`` marks crowd boxes (all ``False`` when ``None``);
  ``record.areas`` (COCO's segmentation areas) decide small/medium/large when given, the box
  areas otherwise. Annotation ids are renumbered from 1, because pycocotools stores a match as
  the annotation id and reads id 0 as "no match" (Roboflow's COCO exports start at 0).
* Images are numbered from 1 in ``record_id`` order (accumulation order when the ids do not sort),
  so the result does not depend on the order batches arrived in.
* Undefined values are ``-1.0``, as in pycocotools: an area range, IoU threshold or class with no
  ground truth to score against (and every key when nothing with ground truth was accumulated).
  No detections at all against existing ground truth score ``0.0``.
* Under ``torch.distributed`` (initialized, world size > 1),
  [`COCOMetric.finalize`][efficientdet_adapter.metrics.COCOMetric.finalize] gathers
  every rank's images with ``all_gather_object`` so each rank reports the metric of the whole
  validation set. Images seen twice (``DistributedSampler`` pads the last batch by repeating
  images) are counted once, by ``record_id``; give records unique ids.
"""

from __future__ import annotations

import contextlib
import io
import logging
import sys
from abc import ABC, abstractmethod
from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass
from enum import Enum

import numpy as np

from efficientdet_adapter.records.class_map import ClassMap
from efficientdet_adapter.records.predictions import Prediction
from efficientdet_adapter.base.errors import ArgumentError

__all__ = ["Metric", "COCOMetric", "COCOMetricType", "SimpleConfusionMatrix"]

#: IceVision 0.12's names of ``icevision.metrics`` that this library does not offer, and why.
NOT_OFFERED: dict[str, str] = {}


def __getattr__(name: str):
    """``SimpleConfusionMatrix`` lives in IceVision's path, ``metrics.confusion_matrix`` (a face,
    which this layer does not import at load): imported on first use."""
    if name == "SimpleConfusionMatrix":
        import importlib  # noqa: PLC0415

        return importlib.import_module(".confusion_matrix", __name__).SimpleConfusionMatrix
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

logger = logging.getLogger(__name__)

# COCO's default IoU thresholds (.50:.05:.95), built exactly as pycocotools builds them.
COCO_IOU_THRESHOLDS = np.linspace(0.5, 0.95, int(np.round((0.95 - 0.5) / 0.05)) + 1, endpoint=True)
_AREAS = ("all", "small", "medium", "large")


class Metric(ABC):
    """IceVision's metric protocol: ``accumulate`` predictions, then ``finalize`` into numbers.

    Engines call [`reset`][efficientdet_adapter.metrics.Metric.reset] when a validation pass starts,
    [`accumulate`][efficientdet_adapter.metrics.Metric.accumulate] once per batch
    and [`finalize`][efficientdet_adapter.metrics.Metric.finalize] at the end; ``finalize`` also
    resets.
    """

    @abstractmethod
    def accumulate(self, preds: Sequence[Prediction]) -> None:
        """Remember the predictions of one batch (each with its ``ground_truth``)."""

    @abstractmethod
    def finalize(self) -> dict[str, float]:
        """The metric values of everything accumulated since the last reset; then reset."""

    def reset(self) -> None:
        """Forget everything accumulated so far."""

    @property
    def name(self) -> str:
        """A stable name for logs and tables (the class name)."""
        return type(self).__name__


class COCOMetricType(Enum):
    """What [`COCOMetric`][efficientdet_adapter.metrics.COCOMetric] scores. Only boxes: EfficientDet
    predicts no masks."""

    bbox = "bbox"
    mask = "segm"


@dataclass(frozen=True)
class _ImageItem:
    """One image's ground truth and detections, as plain arrays (small and picklable for DDP)."""

    record_id: Hashable
    width: int
    height: int
    gt_boxes: np.ndarray  # [M, 4] float64 xyxy
    gt_label_ids: np.ndarray  # [M] int64
    gt_iscrowd: np.ndarray  # [M] int64 (0/1)
    gt_areas: np.ndarray  # [M] float64
    dt_boxes: np.ndarray  # [N, 4] float64 xyxy (values of the stored float32 boxes)
    dt_scores: np.ndarray  # [N] float64
    dt_label_ids: np.ndarray  # [N] int64


def image_item(pred: Prediction) -> _ImageItem:
    gt = pred.ground_truth
    if gt is None:
        raise ArgumentError(
            f"COCOMetric needs the ground truth of every prediction; prediction for image "
            f"{pred.filepath or pred.record_id!r} has ground_truth=None (predictions from a "
            "validation loop carry their record; build others with "
            "Prediction(..., ground_truth=record))"
        )
    where = gt.filepath or gt.record_id
    m = len(gt.bboxes)
    gt_boxes = np.array([b.xyxy for b in gt.bboxes], dtype=np.float64).reshape(m, 4)
    gt_label_ids = np.asarray(gt.label_ids, dtype=np.int64).reshape(-1)
    if len(gt_label_ids) != m:
        raise ArgumentError(
            f"record {where!r} has {m} boxes but {len(gt_label_ids)} label ids; resolve its labels "
            "through the class map (parsers do) before scoring"
        )
    for field_name, values in (("iscrowds", gt.iscrowds), ("areas", gt.areas)):
        if values is not None and len(values) != m:
            raise ArgumentError(
                f"record {where!r} has {m} boxes but {len(values)} {field_name}; give one per box "
                "or None"
            )
    gt_iscrowd = (
        np.zeros(m, np.int64) if gt.iscrowds is None else np.asarray(gt.iscrowds, np.int64)
    )
    if gt.areas is None:
        gt_areas = (gt_boxes[:, 2] - gt_boxes[:, 0]) * (gt_boxes[:, 3] - gt_boxes[:, 1])
    else:
        gt_areas = np.asarray(gt.areas, dtype=np.float64)
    keep = pred.scores > 0  # effdet pads its output with all-zero rows
    return _ImageItem(
        record_id=gt.record_id if pred.record_id is None else pred.record_id,
        width=int(gt.width),
        height=int(gt.height),
        gt_boxes=gt_boxes,
        gt_label_ids=gt_label_ids,
        gt_iscrowd=gt_iscrowd,
        gt_areas=gt_areas,
        dt_boxes=pred.boxes[keep].astype(np.float64),
        dt_scores=pred.scores[keep].astype(np.float64),
        dt_label_ids=pred.label_ids[keep].copy(),
    )


def _xywh(boxes: np.ndarray) -> np.ndarray:
    out = boxes.copy()
    out[:, 2:] -= boxes[:, :2]
    return out


def ordered_by_image(items: list[_ImageItem]) -> list[_ImageItem]:
    """Items in record_id order (so image ids, and COCO's score-tie order, do not depend on the
    order batches or ranks delivered them); accumulation order when the ids do not sort."""
    try:
        return sorted(items, key=lambda it: it.record_id)
    except TypeError:
        return list(items)


def _unique_by_record_id(items: Iterable[_ImageItem]) -> list[_ImageItem]:
    """The first item of each record_id (items without a record_id are all kept)."""
    seen: set = set()
    out = []
    for it in items:
        rid = it.record_id
        if rid is not None:
            if rid in seen:
                continue
            seen.add(rid)
        out.append(it)
    return out


def _distributed_world_size() -> int:
    """World size of an initialized ``torch.distributed`` group, else 1 (torch not imported: 1)."""
    dist = sys.modules.get("torch.distributed")  # nobody initialized a group without importing it
    if dist is not None and dist.is_available() and dist.is_initialized():
        return dist.get_world_size()
    return 1


def _gather(items: list[_ImageItem], class_map: ClassMap | None):
    """Every rank's items (duplicates by record_id dropped) and the first class map any rank has."""
    import torch.distributed as dist  # noqa: PLC0415

    gathered: list = [None] * dist.get_world_size()
    dist.all_gather_object(gathered, (items, class_map))
    all_items = _unique_by_record_id(it for rank_items, _ in gathered for it in rank_items)
    maps = [cm for _, cm in gathered if cm is not None]
    logger.debug("COCOMetric: %d images from %d ranks", len(all_items), len(gathered))
    return all_items, (maps[0] if maps else None)


@dataclass(frozen=True)
class _CocoInputs:
    """COCO-format ground truth and results, ready for pycocotools."""

    images: list[dict]
    gt_anns: list[dict]
    dt_anns: list[dict]
    cat_ids: list[int]


def coco_inputs(items: Sequence[_ImageItem], class_map: ClassMap | None, show_pbar=False):
    """Image ``i`` of ``items`` becomes COCO image ``i + 1``; annotation and result ids from 1.

    Categories: the class map's foreground ids plus every label id seen (ids are kept as they
    are). Arrays are stacked per image and turned into dicts in one comprehension each.
    """
    images, gt_rows, dt_rows = [], [], []
    iterator = items
    if show_pbar:
        from efficientdet_adapter.base.version_compat import tqdm_class  # noqa: PLC0415

        iterator = tqdm_class()(items, desc="COCOMetric", unit="img")
    for image_id, it in enumerate(iterator, start=1):
        images.append({"id": image_id, "width": it.width, "height": it.height})
        if len(it.gt_boxes):
            ids = np.full(len(it.gt_boxes), image_id)
            gt_rows.append(np.column_stack([ids, _xywh(it.gt_boxes), it.gt_areas,
                                            it.gt_label_ids, it.gt_iscrowd]))
        if len(it.dt_boxes):
            ids = np.full(len(it.dt_boxes), image_id)
            dt_rows.append(np.column_stack([ids, _xywh(it.dt_boxes), it.dt_scores,
                                            it.dt_label_ids]))
    gt = np.concatenate(gt_rows) if gt_rows else np.zeros((0, 8))
    dt = np.concatenate(dt_rows) if dt_rows else np.zeros((0, 7))
    cat_ids = set(gt[:, 6].astype(np.int64).tolist()) | set(dt[:, 6].astype(np.int64).tolist())
    if class_map is not None:
        cat_ids.update(i for i, c in enumerate(class_map) if c != class_map.background)
    # Annotation ids from 1: pycocotools stores a match as the annotation id, 0 meaning none.
    gt_anns = [
        {"id": n, "image_id": int(r[0]), "bbox": r[1:5], "area": r[5],
         "category_id": int(r[6]), "iscrowd": int(r[7])}
        for n, r in enumerate(gt.tolist(), start=1)
    ]
    # The fields COCO.loadRes gives a box result (area = w * h, iscrowd 0, ids from 1), set here
    # because loadRes cannot take an empty result list.
    dt_anns = [
        {"id": n, "image_id": int(r[0]), "bbox": r[1:5], "area": r[3] * r[4], "score": r[5],
         "category_id": int(r[6]), "iscrowd": 0}
        for n, r in enumerate(dt.tolist(), start=1)
    ]
    return _CocoInputs(images, gt_anns, dt_anns, sorted(cat_ids))


def run_cocoeval(inputs: _CocoInputs, iou_thresholds: np.ndarray, iou_type: str):
    """pycocotools' ``COCOeval`` after ``evaluate()`` and ``accumulate()`` (it prints: wrap it)."""
    from pycocotools.coco import COCO  # noqa: PLC0415
    from pycocotools.cocoeval import COCOeval  # noqa: PLC0415

    categories = [{"id": c, "name": str(c)} for c in inputs.cat_ids]
    coco_gt, coco_dt = COCO(), COCO()
    coco_gt.dataset = {"images": inputs.images, "annotations": inputs.gt_anns,
                       "categories": categories}
    coco_dt.dataset = {"images": list(inputs.images), "annotations": inputs.dt_anns,
                       "categories": categories}
    coco_gt.createIndex()
    coco_dt.createIndex()
    coco_eval = COCOeval(coco_gt, coco_dt, iouType=iou_type)
    coco_eval.params.iouThrs = iou_thresholds.copy()
    coco_eval.params.catIds = list(inputs.cat_ids)
    coco_eval.evaluate()
    coco_eval.accumulate()
    return coco_eval


def mean_valid(s: np.ndarray) -> float:
    """Mean of the defined entries (pycocotools marks undefined ones -1), or -1.0 if none."""
    valid = s[s > -1]
    return float(np.mean(valid)) if valid.size else -1.0


@dataclass(frozen=True)
class _Summary:
    """One summary number: AP or AR, at one IoU (or averaged), in one area range, at maxDets."""

    key: str
    ap: bool
    iou: float | None
    area: str
    max_dets: int

    def value(self, coco_eval) -> float:
        """Selected and averaged as ``COCOeval.summarize`` does (same elements, same order)."""
        if not coco_eval.eval:  # pycocotools had nothing to accumulate (no images or classes)
            return -1.0
        p = coco_eval.params
        s = coco_eval.eval["precision" if self.ap else "recall"]
        if self.iou is not None:
            s = s[np.isclose(p.iouThrs, self.iou, rtol=0, atol=1e-9)]
        return mean_valid(s[..., p.areaRngLbl.index(self.area), p.maxDets.index(self.max_dets)])


class COCOMetric(Metric):
    """COCO box AP/AR computed by pycocotools' ``COCOeval``, with IceVision's key names.

    [`finalize`][efficientdet_adapter.metrics.COCOMetric.finalize] returns IceVision's 12 summary
    keys (see [`keys`][efficientdet_adapter.metrics.COCOMetric.keys]), then one
    ``"AP (IoU=0.50:0.95) area=all class=<name>"`` per class
    ([`class_key`][efficientdet_adapter.metrics.COCOMetric.class_key]): every foreground
    class of the predictions' class map and every label id seen, in id order (the id as text
    when there is no class map). The module docstring lists how inputs are built, what ``-1.0``
    means and the DDP behaviour.

    Args:
        metric_type: ``COCOMetricType.bbox`` (masks are not supported).
        iou_thresholds: the IoU thresholds to average over (COCO's 0.50:0.05:0.95 when ``None``).
            Keys name them: averaged keys read ``IoU=<lowest>:<highest>`` (``IoU=<t>`` for one
            threshold); ``"AP (IoU=0.50) area=all"`` and ``"AP (IoU=0.75) area=all"`` are present
            only when 0.5 / 0.75 are among the thresholds (and differ from the averaged key).
        print_summary: print pycocotools' summary table at each
            [`finalize`][efficientdet_adapter.metrics.COCOMetric.finalize].
        show_pbar: show a progress bar while the COCO inputs are built.

    Example:
        >>> metric = COCOMetric(iou_thresholds=[0.5])
        >>> metric.keys[:2]
        ['AP (IoU=0.50) area=all', 'AP (IoU=0.50) area=small']
        >>> # metric.accumulate(preds) per batch, then: logs = metric.finalize()
    """

    def __init__(
        self,
        metric_type: COCOMetricType | str = COCOMetricType.bbox,
        iou_thresholds: Sequence[float] | None = None,
        print_summary: bool = False,
        show_pbar: bool = False,
    ):
        if metric_type not in (COCOMetricType.bbox, COCOMetricType.bbox.value):
            raise ArgumentError(
                f"COCOMetric scores boxes only (metric_type=COCOMetricType.bbox): EfficientDet "
                f"predicts no masks, so metric_type={metric_type!r} is not supported"
            )
        self.metric_type = COCOMetricType.bbox
        self.iou_thresholds = self._check_thresholds(iou_thresholds)
        self.print_summary = print_summary
        self.show_pbar = show_pbar
        self._items: list[_ImageItem] = []
        self._class_map: ClassMap | None = None

    # -- configuration ---------------------------------------------------------------------
    @staticmethod
    def _check_thresholds(iou_thresholds: Sequence[float] | None) -> np.ndarray:
        if iou_thresholds is None:
            return COCO_IOU_THRESHOLDS.copy()
        thr = np.asarray(iou_thresholds, dtype=np.float64).reshape(-1)
        if thr.size == 0 or not np.all((thr > 0) & (thr <= 1)):
            raise ArgumentError(
                f"iou_thresholds must be a non-empty list of IoUs in (0, 1], got {iou_thresholds!r}"
            )
        return np.unique(thr)  # sorted, duplicates removed

    @property
    def _iou_range(self) -> str:
        thr = self.iou_thresholds
        return f"{thr[0]:.2f}" if len(thr) == 1 else f"{thr[0]:.2f}:{thr[-1]:.2f}"

    def _summaries(self) -> list[_Summary]:
        rng = self._iou_range
        out = [_Summary(f"AP (IoU={rng}) area=all", True, None, "all", 100)]
        for t in (0.5, 0.75):
            key = f"AP (IoU={t:.2f}) area=all"
            if np.isclose(self.iou_thresholds, t, rtol=0, atol=1e-9).any() and key != out[0].key:
                out.append(_Summary(key, True, t, "all", 100))
        out += [_Summary(f"AP (IoU={rng}) area={a}", True, None, a, 100) for a in _AREAS[1:]]
        out += [_Summary(f"AR (IoU={rng}) area=all maxDets={m}", False, None, "all", m)
                for m in (1, 10, 100)]
        out += [_Summary(f"AR (IoU={rng}) area={a} maxDets=100", False, None, a, 100)
                for a in _AREAS[1:]]
        return out

    @property
    def keys(self) -> list[str]:
        """The summary keys [`finalize`][efficientdet_adapter.metrics.COCOMetric.finalize] returns
        first, in order (IceVision's 12 by default).

        Known before any data is seen, so an engine can name its table columns up front.
        """
        return [s.key for s in self._summaries()]

    def class_key(self, class_name: str) -> str:
        """The key of one class's AP, e.g. ``"AP (IoU=0.50:0.95) area=all class=cat"``."""
        return f"AP (IoU={self._iou_range}) area=all class={class_name}"

    # -- the protocol ----------------------------------------------------------------------
    def reset(self) -> None:
        self._items = []
        self._class_map = None

    @property
    def num_images(self) -> int:
        """How many predictions are accumulated (on this process)."""
        return len(self._items)

    def accumulate(self, preds: Sequence[Prediction]) -> None:
        """Store the detections and ground truth of ``preds`` (copied: later edits don't leak)."""
        for pred in preds:
            self._items.append(image_item(pred))
            if self._class_map is None and pred.class_map is not None:
                self._class_map = pred.class_map

    def finalize(self) -> dict[str, float]:
        """Run ``COCOeval`` on everything accumulated (all ranks' under DDP); then reset.

        Returns:
            ``{key: value}``: [`keys`][efficientdet_adapter.metrics.COCOMetric.keys] in order, then
            the per-class APs in class-id order.
        """
        items, class_map = self._items, self._class_map
        self.reset()
        if _distributed_world_size() > 1:
            items, class_map = _gather(items, class_map)
        inputs = coco_inputs(ordered_by_image(items), class_map, show_pbar=self.show_pbar)
        quiet = io.StringIO()
        with contextlib.redirect_stdout(quiet):
            coco_eval = run_cocoeval(inputs, self.iou_thresholds, self.metric_type.value)
        if self.print_summary and coco_eval.eval:
            coco_eval.summarize()
        logs = {s.key: s.value(coco_eval) for s in self._summaries()}
        for k, cat_id in enumerate(inputs.cat_ids):
            known = class_map is not None and 0 <= cat_id < len(class_map)
            name = class_map.get_by_id(cat_id) if known else str(cat_id)
            precision = coco_eval.eval.get("precision")
            ap = -1.0 if precision is None else mean_valid(precision[:, :, k, 0, -1])
            logs[self.class_key(name)] = ap
        return logs
