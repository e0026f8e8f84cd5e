"""Prediction files: detections written as COCO results, VOC XML, YOLO txt or COCO annotations.

What the CLI's ``predict`` writes (:func:`write_coco_results`, :func:`write_voc_predictions`,
:func:`write_yolo_predictions`) and IceVision's pseudo-label helper
(:func:`export_batch_inferences_as_coco_annotations`). Coordinates are written as
:mod:`.dataset_files` writes a dataset's, so a VOC or YOLO prediction file parses back with the
same parsers; scores are the shortest floats that read back the same float32.

Example:
    >>> write_coco_results(preds, "results.json", min_score=0.0)  # doctest: +SKIP
    PosixPath('results.json')
"""

from __future__ import annotations

import json
from collections.abc import Hashable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .atomic import atomic_write_text
from .class_map import ClassMap
from .dataset_files import _num, _voc_xml
from .predictions import Prediction

__all__ = [
    "write_coco_results",
    "write_voc_predictions",
    "write_yolo_predictions",
    "export_batch_inferences_as_coco_annotations",
]


def _short(values) -> list:
    """float32 values as the shortest floats that read back the same (0.9, not 0.89999997)."""
    return [float(str(v)) for v in values]


def _kept(pred: Prediction, min_score: float | None):
    """(boxes as lists of short floats, scores, label ids) of the detections kept."""
    keep = pred.keep if min_score is None else pred.scores >= min_score
    boxes = [_short(b) for b in pred.boxes[keep]]
    return boxes, _short(pred.scores[keep]), pred.label_ids[keep].tolist()


def _pred_stem(pred: Prediction, i: int) -> str:
    if pred.filepath is not None:
        return Path(pred.filepath).stem
    return str(pred.record_id if pred.record_id is not None else i)


def write_coco_results(
    predictions: Sequence[Prediction],
    path: str | Path,
    category_ids: Mapping[int, int] | Sequence[int] | None = None,
    *,
    image_ids: Mapping[Hashable, int] | None = None,
    min_score: float | None = None,
) -> Path:
    """Write detections as a COCO results JSON (``pycocotools``' ``loadRes`` input).

    Each detection becomes ``{"image_id", "category_id", "bbox": [x, y, w, h], "score"}``.

    Args:
        predictions: one :class:`Prediction` per image.
        path: the JSON file to write.
        category_ids: label id -> original COCO category id (a dict, or a list indexed by label
            id), e.g. what the COCO parser kept; by default the label id itself.
        image_ids: record id -> COCO image id; by default the record id (which must be an int).
        min_score: keep detections scoring at least this; by default each prediction's
            ``detection_threshold``. Pass ``0.0`` to write every detection (for mAP).

    Example:
        >>> write_coco_results(preds, "results.json", category_ids={1: 18, 2: 44})
        PosixPath('results.json')
    """
    results = []
    for i, pred in enumerate(predictions):
        key = pred.record_id if pred.record_id is not None else i
        image_id = image_ids[key] if image_ids is not None else key
        if not isinstance(image_id, int):
            raise ValueError(
                f"prediction {i} has record id {key!r}, not an int COCO image id; pass image_ids="
            )
        boxes, scores, label_ids = _kept(pred, min_score)
        xywh = np.asarray(boxes, np.float32).reshape(-1, 4)
        xywh[:, 2:] -= xywh[:, :2]
        for box, score, label_id in zip(xywh, scores, label_ids):
            category = category_ids[label_id] if category_ids is not None else label_id
            results.append(
                {
                    "image_id": int(image_id),
                    "category_id": int(category),
                    "bbox": _short(box),
                    "score": score,
                }
            )
    return atomic_write_text(path, json.dumps(results))


def _pred_names(pred: Prediction, label_ids) -> list[str]:
    if pred.class_map is None:
        return [str(i) for i in label_ids]
    return [pred.class_map.get_by_id(i) for i in label_ids]


def write_voc_predictions(
    predictions: Sequence[Prediction],
    out_dir: str | Path,
    *,
    one_based: bool = True,
    min_score: float | None = None,
) -> list[Path]:
    """One Pascal VOC XML per image (``<image stem>.xml``), each object with a ``<score>``.

    Coordinates are written as :func:`write_voc` writes them: with ``one_based`` (default, the
    convention ``VOCBBoxParser`` reads by default) each is the pixel value plus 1. Class names
    come from the prediction's class map (ids as text without one).
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for i, pred in enumerate(predictions):
        boxes, scores, label_ids = _kept(pred, min_score)
        names = _pred_names(pred, label_ids)
        objects = [(n, tuple(b), s) for n, b, s in zip(names, boxes, scores)]
        file_name = Path(pred.filepath).name if pred.filepath is not None else f"{i}.jpg"
        xml = _voc_xml(
            file_name, pred.width or 0, pred.height or 0, objects, 1.0 if one_based else 0.0
        )
        path = out_dir / f"{_pred_stem(pred, i)}.xml"
        atomic_write_text(path, xml)
        written.append(path)
    return written


def write_yolo_predictions(
    predictions: Sequence[Prediction], out_dir: str | Path, *, min_score: float | None = None
) -> list[Path]:
    """One YOLO txt per image: ``class cx cy w h score`` lines (normalized, as ``save_conf``).

    The class index is 0-based over the foreground classes (label id - 1 when the class map has
    a background). Each prediction needs its image ``width`` and ``height``.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for i, pred in enumerate(predictions):
        if not pred.width or not pred.height:
            raise ValueError(
                f"prediction {i} ({pred.filepath or pred.record_id}) has no image width/height; "
                "YOLO coordinates are relative to the image size"
            )
        has_background = pred.class_map is None or pred.class_map.background is not None
        shift = 1 if has_background else 0
        boxes, scores, label_ids = _kept(pred, min_score)
        rows = []
        for (x0, y0, x1, y1), score, label_id in zip(boxes, scores, label_ids):
            w, h = pred.width, pred.height
            rel = ((x0 + x1) / 2 / w, (y0 + y1) / 2 / h, (x1 - x0) / w, (y1 - y0) / h)
            rows.append(" ".join([str(label_id - shift), *(_num(v) for v in rel), _num(score)]))
        path = out_dir / f"{_pred_stem(pred, i)}.txt"
        atomic_write_text(path, "".join(r + "\n" for r in rows))
        written.append(path)
    return written


def export_batch_inferences_as_coco_annotations(
    preds: Sequence[Prediction],
    img_files: Sequence[str | Path],
    transforms: Any = None,
    class_map: ClassMap | None = None,
    output_filepath: str | Path = "inference_results_as_coco_annotations.json",
    info: Mapping[str, Any] | None = None,
    licenses: Sequence[Mapping[str, Any]] | None = None,
) -> Path:
    """Predictions as a COCO *annotation* file (pseudo-labels), IceVision's helper.

    ``preds[i]`` is the prediction for ``img_files[i]``, in that image's pixels (what
    ``predict``/``predict_from_dl`` return for a ``Dataset``; ``transforms`` is accepted for
    IceVision's signature and not needed). Only the kept detections (``detection_threshold``)
    are written; category ``k`` is the class map's id ``k`` and each annotation keeps its
    ``score``.

    Example:
        >>> export_batch_inferences_as_coco_annotations(preds, img_files, valid_tfms, class_map,
        ...                                             "pseudo_labels.json")  # doctest: +SKIP
    """
    if len(preds) != len(img_files):
        raise ValueError(
            f"{len(preds)} predictions for {len(img_files)} image files: give one file per "
            "prediction, in the same order"
        )
    class_map = class_map or next((p.class_map for p in preds if p.class_map is not None), None)
    if class_map is None:
        raise ValueError("no class map: pass class_map=, the one the model was trained with")
    categories = [{"id": i, "name": name} for i, name in enumerate(class_map.get_classes())
                  if name != class_map.background]
    images, annotations = [], []
    for image_id, (pred, file) in enumerate(zip(preds, img_files)):
        if pred.width is None or pred.height is None:
            raise ValueError(f"prediction {image_id} ({file}) has no image size")
        images.append({"id": image_id, "file_name": Path(file).name,
                       "width": int(pred.width), "height": int(pred.height)})
        for box, score, label_id in zip(pred.boxes[pred.keep], pred.kept_scores,
                                        pred.kept_label_ids):
            x0, y0, x1, y1 = (float(v) for v in box)
            annotations.append({
                "id": len(annotations), "image_id": image_id, "category_id": int(label_id),
                "bbox": _short([x0, y0, x1 - x0, y1 - y0]), "area": float((x1 - x0) * (y1 - y0)),
                "iscrowd": 0, "segmentation": [], "score": float(str(score)),
            })
    data = {"info": dict(info or {}), "licenses": [dict(x) for x in licenses or []],
            "categories": categories, "images": images, "annotations": annotations}
    return atomic_write_text(output_filepath, json.dumps(data))
