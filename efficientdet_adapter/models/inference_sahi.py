"""Sliced (tiled) inference through SAHI: IceVision's ``IceSahiModel``, for EfficientDet.

SAHI cuts a large image into overlapping slices, runs the model on each (here through
``efficientdet.detect_image``), shifts the boxes back into the full image and merges the
duplicates at slice borders. Small objects that vanish when a whole photo is shrunk to the
model's input size are found in the slices. Needs ``pip install 'efficientdet_adapter[sahi]'``.

Example:
    >>> sahi_model = IceSahiModel(model_type=efficientdet, model=model, class_map=class_map,
    ...                           tfms=valid_tfms, confidence_threshold=0.4)   # doctest: +SKIP
    >>> pred = sahi_model.get_sliced_prediction("fridge.jpg", slice_height=256,
    ...                                         slice_width=256)               # doctest: +SKIP
    >>> pred["detection"]["bboxes"], pred["img"]                              # doctest: +SKIP
"""

from __future__ import annotations

from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
from torch import nn

from efficientdet_adapter.records.class_map import ClassMap
from efficientdet_adapter.records.predictions import Prediction

try:
    from sahi.models.base import DetectionModel
    from sahi.predict import get_sliced_prediction as _sahi_sliced_prediction
    from sahi.prediction import ObjectPrediction
except ImportError as e:  # pragma: no cover - exercised only without the extra installed
    raise ImportError(
        "IceSahiModel needs SAHI: pip install 'efficientdet_adapter[sahi]'"
    ) from e

__all__ = ["IceSahiModel"]


class IceSahiModel(DetectionModel):
    """A SAHI ``DetectionModel`` around an EfficientDet and its inference transform.

    Args:
        model_type: ``models.ross.efficientdet`` (the
            [`efficientdet`][efficientdet_adapter.efficientdet] module).
        model: the trained model.
        class_map: its class map.
        tfms: the inference transform (``tfms.A.Adapter([*resize_and_pad(size), Normalize()])``).
        confidence_threshold: detections scoring below it are dropped in every slice.
    """

    def __init__(
        self,
        model_type: ModuleType,
        model: nn.Module,
        class_map: ClassMap,
        tfms: Any,
        confidence_threshold: float = 0.5,
    ) -> None:
        super().__init__(model_path="", confidence_threshold=confidence_threshold,
                         load_at_init=False)
        self.model_type = model_type
        self.model = model
        self.class_map = class_map
        self.tfms = tfms
        self.category_mapping = {str(i): name for i, name in enumerate(class_map.get_classes())}

    @property
    def num_categories(self) -> int:
        return len(self.class_map)

    @property
    def has_mask(self) -> bool:
        return False

    @property
    def category_names(self) -> list[str]:
        return self.class_map.get_classes()

    def perform_inference(self, image: np.ndarray, image_size: int | None = None) -> None:
        """Detect in one slice (an HxWx3 RGB array); SAHI reads the result back below."""
        self._original_predictions = self.model_type.detect_image(
            np.ascontiguousarray(image), self.tfms, self.model, class_map=self.class_map,
            detection_threshold=self.confidence_threshold,
        )

    def _create_object_prediction_list_from_original_predictions(
        self,
        shift_amount_list: list | None = [[0, 0]],  # noqa: B006 - SAHI's signature
        full_shape_list: list | None = None,
    ) -> None:
        pred: Prediction = self._original_predictions
        # SAHI passes one image's [x, y] / [h, w], flat or wrapped in a list
        shift = shift_amount_list or [0, 0]
        if isinstance(shift[0], (list, tuple)):
            shift = shift[0]
        full = full_shape_list
        if full and isinstance(full[0], (list, tuple)):
            full = full[0]
        objects = [
            ObjectPrediction(
                bbox=[float(v) for v in box], category_id=int(label_id),
                category_name=self.class_map.get_by_id(int(label_id)), score=float(score),
                shift_amount=list(shift), full_shape=None if full is None else list(full),
            )
            for box, score, label_id in zip(pred.boxes[pred.keep], pred.kept_scores,
                                            pred.kept_label_ids)
        ]
        self._object_prediction_list_per_image = [objects]

    def get_sliced_prediction(
        self,
        image: Any,
        keep_sahi_format: bool = False,
        return_img: bool = True,
        **kwargs: Any,
    ) -> Any:
        """SAHI's sliced prediction of a whole image (a path, an array or a PIL image).

        Args:
            keep_sahi_format: return SAHI's ``PredictionResult`` as it is.
            return_img: with IceVision's dict, also draw the boxes (``pred["img"]``).
            kwargs: SAHI's ``get_sliced_prediction`` options (``slice_height``,
                ``slice_width``, ``overlap_height_ratio``, ``overlap_width_ratio``...);
                IceVision's display options (``display_label``, ``font_path``...) are ignored.

        Returns:
            A [`Prediction`][efficientdet_adapter.records.predictions.Prediction] in the full image's
            pixels, which reads as IceVision's dict
            (``pred["detection"]``, ``pred["img"]``, ``pred["width"]``, ``pred["height"]``).
        """
        from efficientdet_adapter.records.images import open_img, to_rgb  # noqa: PLC0415

        for ignored in ("display_label", "display_bbox", "display_score", "font_path",
                        "font_size", "return_as_pil_img"):
            kwargs.pop(ignored, None)
        kwargs.setdefault("verbose", 0)
        if isinstance(image, Path):
            image = str(image)
        result = _sahi_sliced_prediction(image=image, detection_model=self, **kwargs)
        if keep_sahi_format:
            return result
        objects = result.object_prediction_list
        img = open_img(image) if isinstance(image, str) else to_rgb(np.asarray(image), name="image")
        return Prediction(
            boxes=[o.bbox.to_xyxy() for o in objects],
            scores=[o.score.value for o in objects],
            label_ids=[o.category.id for o in objects],
            detection_threshold=self.confidence_threshold,
            class_map=self.class_map,
            filepath=Path(image) if isinstance(image, str) else None,
            width=img.shape[1], height=img.shape[0],
            img=img if return_img else None,
        )
