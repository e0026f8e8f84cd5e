"""COCO JSON out: Roboflow COCO exports of records, and predictions as COCO results (the
writers of [`coco`][efficientdet_adapter.parsers.coco], which re-exports them)."""

from __future__ import annotations

import json
from collections.abc import Hashable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from efficientdet_adapter.base.atomic import atomic_write_text
from efficientdet_adapter.records.class_map import ClassMap
from efficientdet_adapter.base.errors import ArgumentError
from efficientdet_adapter.records.predictions import Prediction
from efficientdet_adapter.parsers.formats import (
    COCO_ANNOTATIONS_NAME,
    Splits,
    as_splits,
    box_names,
    foreground_index,
    image_dir,
    kept_detections,
    place_image,
    resolve_class_map,
    short_floats,
)

__all__ = ["write_coco", "write_coco_results", "coco_results",
           "export_batch_inferences_as_coco_annotations"]


def write_coco(
    splits: Splits,
    out_dir: str | Path,
    class_map: ClassMap | None = None,
    *,
    group_name: str = "objects",
) -> Path:
    """Roboflow COCO: one ``_annotations.coco.json`` per split folder, ids restarting at 0.

    Category 0 is the annotation group ``group_name`` (supercategory ``"none"``), which no box
    uses; class ``k`` of the class map's foreground (0-based) is category ``k + 1``. See
    [`write_export`][efficientdet_adapter.parsers.roboflow.write_export] for ``splits``.

    Example:
        >>> write_coco({"train": records}, "out")  # doctest: +SKIP
        PosixPath('out')
    """
    named = as_splits(splits)
    class_map = resolve_class_map(named, class_map)
    index = foreground_index(class_map)
    categories = [{"id": 0, "name": group_name, "supercategory": "none"}] + [
        {"id": i + 1, "name": name, "supercategory": group_name} for name, i in index.items()
    ]
    out_dir = Path(out_dir)
    for split, records in named.items():
        split_dir = image_dir(out_dir, split, "coco")
        split_dir.mkdir(parents=True, exist_ok=True)
        taken: set[str] = set()
        images, annotations = [], []
        for image_id, record in enumerate(records):
            file_name = place_image(record, split_dir, taken)
            images.append(
                {
                    "id": image_id,
                    "license": 1,
                    "file_name": file_name,
                    "height": int(record.height),
                    "width": int(record.width),
                }
            )
            names = box_names(record, class_map)
            for k, (box, name) in enumerate(zip(record.bboxes, names)):
                annotations.append(
                    {
                        "id": len(annotations),
                        "image_id": image_id,
                        "category_id": index[name] + 1,
                        "bbox": [float(v) for v in box.xywh],
                        "area": float(record.areas[k]) if record.areas else box.area,
                        "segmentation": [],
                        "iscrowd": int(bool(record.iscrowds[k])) if record.iscrowds else 0,
                    }
                )
        data = {
            "info": {"description": "Exported by efficientdet_adapter in Roboflow's COCO layout"},
            "licenses": [{"id": 1, "url": "", "name": "unknown"}],
            "categories": categories,
            "images": images,
            "annotations": annotations,
        }
        atomic_write_text(split_dir / COCO_ANNOTATIONS_NAME, json.dumps(data))
    return out_dir


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
        predictions: one [`Prediction`][efficientdet_adapter.records.predictions.Prediction] per image.
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
            raise ArgumentError(
                f"prediction {i} has record id {key!r}, not an int COCO image id; pass image_ids="
            )
        results += coco_results(pred, image_id, category_ids, min_score=min_score)
    return atomic_write_text(path, json.dumps(results))


def coco_results(
    pred: Prediction,
    image_id: int,
    category_ids: Mapping[int, int] | Sequence[int] | None = None,
    *,
    min_score: float | None = None,
) -> list[dict[str, Any]]:
    """One image's rows of
    [`write_coco_results`][efficientdet_adapter.parsers.coco.write_coco_results]: ``{"image_id",
    "category_id",
    "bbox": [x, y, w, h], "score"}`` per kept detection (the arguments as there)."""
    boxes, scores, label_ids = kept_detections(pred, min_score)
    xywh = np.asarray(boxes, np.float32).reshape(-1, 4)
    xywh[:, 2:] -= xywh[:, :2]
    rows = []
    for box, score, label_id in zip(xywh, scores, label_ids):
        category = category_ids[label_id] if category_ids is not None else label_id
        rows.append({"image_id": int(image_id), "category_id": int(category),
                     "bbox": short_floats(box), "score": score})
    return rows


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
        raise ArgumentError(
            f"{len(preds)} predictions for {len(img_files)} image files: give one file per "
            "prediction, in the same order"
        )
    class_map = class_map or next((p.class_map for p in preds if p.class_map is not None), None)
    if class_map is None:
        raise ArgumentError("no class map: pass class_map=, the one the model was trained with")
    categories = [{"id": i, "name": name} for i, name in enumerate(class_map.get_classes())
                  if name != class_map.background]
    images, annotations = [], []
    for image_id, (pred, file) in enumerate(zip(preds, img_files)):
        if pred.width is None or pred.height is None:
            raise ArgumentError(f"prediction {image_id} ({file}) has no image size")
        images.append({"id": image_id, "file_name": Path(file).name,
                       "width": int(pred.width), "height": int(pred.height)})
        for box, score, label_id in zip(pred.boxes[pred.keep], pred.kept_scores,
                                        pred.kept_label_ids):
            x0, y0, x1, y1 = (float(v) for v in box)
            annotations.append({
                "id": len(annotations), "image_id": image_id, "category_id": int(label_id),
                "bbox": short_floats([x0, y0, x1 - x0, y1 - y0]), "area": float((x1 - x0) * (y1 - y0)),
                "iscrowd": 0, "segmentation": [], "score": float(str(score)),
            })
    data = {"info": dict(info or {}), "licenses": [dict(x) for x in licenses or []],
            "categories": categories, "images": images, "annotations": annotations}
    return atomic_write_text(output_filepath, json.dumps(data))
