"""One image in, its predictions out: ``detect_image`` and IceVision's ``end2end_detect`` (a
PIL image or array, the model's own inference transform, boxes in the image's pixels)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from efficientdet_adapter.inference.prediction import DEFAULT_MIN_SCORE, inference_tfm, predict
from efficientdet_adapter.pictures.show import annotate
from efficientdet_adapter.records.class_map import ClassMap
from efficientdet_adapter.records.predictions import Prediction

__all__ = ["detect_image", "end2end_detect"]


def detect_image(
    img: str | Path | np.ndarray,
    transforms: Any,
    model: nn.Module,
    class_map: ClassMap,
    detection_threshold: float = 0.5,
    *,
    min_score: float = DEFAULT_MIN_SCORE,
    device: str | torch.device | None = "auto",
) -> Prediction:
    """Detect objects in one image (a file path, an HxWx3 RGB array or a PIL image), end to end:
    the library's form of IceVision's
    [`end2end_detect`][efficientdet_adapter.inference.single_image.end2end_detect], returning a
    [`Prediction`][efficientdet_adapter.records.predictions.Prediction]
    (draw it with [`annotate`][efficientdet_adapter.pictures.show.annotate]).

    Args:
        img: the image.
        transforms: the inference transform (an ``Adapter``, or a list of albumentations
            transforms), or ``None`` for
            [`inference_tfm`][efficientdet_adapter.inference.prediction.inference_tfm].
        model, class_map: the trained model and its class map.
        detection_threshold: sets the prediction's thresholded views.
        min_score: detections scoring below it are not stored.
        device: where to run (``"auto"``: the GPU when there is one; see
            [`predict_from_dl`][efficientdet_adapter.inference.prediction.predict_from_dl]).

    Returns:
        A [`Prediction`][efficientdet_adapter.records.predictions.Prediction] in the original image's
        pixels.

    Example:
        >>> pred = detect_image("dog.jpg", None, model, class_map, detection_threshold=0.4)
        >>> [(label, box.xyxy) for label, box in zip(pred.labels, pred.bboxes)]
    """
    from efficientdet_adapter.base.arguments import probability  # noqa: PLC0415

    probability(detection_threshold, "detection_threshold")
    from efficientdet_adapter.records.dataset import Dataset  # noqa: PLC0415
    from efficientdet_adapter.tfms import Adapter  # noqa: PLC0415

    if transforms is None:
        transforms = inference_tfm(model)
    elif not callable(transforms):
        transforms = Adapter(list(transforms))
    ds = Dataset.from_images([img], transforms, class_map=class_map)
    [pred] = predict(
        model, ds, detection_threshold=detection_threshold, keep_images=True,
        device=device, batch_size=1, num_workers=0, min_score=min_score, class_map=class_map,
    )
    if isinstance(img, (str, Path)):
        pred.filepath = Path(img)
    return pred


def end2end_detect(
    img: str | Path | np.ndarray,
    transforms: Any,
    model: nn.Module,
    class_map: ClassMap,
    detection_threshold: float = 0.5,
    *,
    return_img: bool = True,
    return_as_pil_img: bool = True,
    display_label: bool = True,
    display_score: bool = True,
    min_score: float = DEFAULT_MIN_SCORE,
    device: str | torch.device | None = "auto",
    **ignored: Any,
) -> dict[str, Any]:
    """IceVision 0.12's ``end2end_detect``: one image in, IceVision's dict out.

    ``{"detection": {"bboxes", "scores", "label_ids", "labels"}`` (the kept detections, in the
    original image's pixels), ``"img"`` (the image with them drawn: a PIL image, an array with
    ``return_as_pil_img=False``, ``None`` with ``return_img=False``), ``"width"``,
    ``"height"`` (the original image's size)}. IceVision's styling arguments (``font_path``...)
    are ignored. [`detect_image`][efficientdet_adapter.inference.single_image.detect_image] takes
    the same arguments and returns a [`Prediction`][efficientdet_adapter.records.predictions.Prediction].

    Example:
        >>> out = end2end_detect("dog.jpg", None, model, class_map, detection_threshold=0.4)
        >>> out["detection"]["labels"], out["img"].size
    """
    pred = detect_image(img, transforms, model, class_map, detection_threshold,
                        min_score=min_score, device=device)
    drawn = None
    if return_img:
        drawn = annotate(pred, display_label=display_label, display_score=display_score)
        if return_as_pil_img:
            from PIL import Image  # noqa: PLC0415

            drawn = Image.fromarray(drawn)
    return {"detection": pred["detection"], "img": drawn, "width": pred.width,
            "height": pred.height}


# -- predict, then draw (the drawing itself is in .show) ------------------------------------
