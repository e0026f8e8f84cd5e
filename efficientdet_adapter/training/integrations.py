"""Optional integrations: Weights & Biases pictures of predictions (``pip install wandb``), and
the patch that fastai's ``WandbCallback`` needs (applied when a learner fits with one)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from efficientdet_adapter.records.predictions import Prediction
from efficientdet_adapter.base.errors import ArgumentError, UsageError

__all__ = ["fix_fastai_wandb_config", "wandb_img_preds"]


def _wandb() -> Any:
    try:
        import wandb  # noqa: PLC0415
    except ImportError as e:
        raise ImportError(
            "wandb_img_preds needs Weights & Biases: pip install 'efficientdet_adapter[wandb]'"
        ) from e
    return wandb


def _boxes(boxes, label_ids, class_map, scores=None) -> list[dict[str, Any]]:
    out = []
    for i, (box, cid) in enumerate(zip(boxes, label_ids)):
        x0, y0, x1, y1 = (float(v) for v in box)
        item: dict[str, Any] = {"position": {"minX": x0, "minY": y0, "maxX": x1, "maxY": y1},
                                "domain": "pixel", "class_id": int(cid)}
        name = class_map.get_by_id(int(cid)) if class_map is not None else str(int(cid))
        if scores is not None:
            item["scores"] = {"score": float(scores[i])}
            item["box_caption"] = f"{name} {float(scores[i]):.2f}"
        else:
            item["box_caption"] = name
        out.append(item)
    return out


def wandb_img_preds(
    preds: Sequence[Prediction], add_ground_truth: bool = False
) -> list[Any]:
    """One ``wandb.Image`` per prediction, with the kept boxes (and the ground truth's, with
    ``add_ground_truth=True``) as W&B box overlays (IceVision's ``wandb_img_preds``).

    Predictions need their images (``predict_from_dl(..., keep_images=True)``).

    Example:
        >>> wandb.log({"Predicted images": wandb_img_preds(preds, add_ground_truth=True)})  # doctest: +SKIP
    """
    if isinstance(preds, (str, bytes, Prediction)) or not isinstance(preds, Sequence):
        raise ArgumentError(f"wandb_img_preds: preds={str(preds)[:60]!r} ({type(preds).__name__}):"
                            " pass the list that predict(..., keep_images=True) returns")
    for i, pred in enumerate(preds):
        if not isinstance(pred, Prediction):
            raise ArgumentError(
                f"wandb_img_preds: preds[{i}] is {str(pred)[:60]!r} ({type(pred).__name__}), not "
                "a Prediction: pass the list that predict(..., keep_images=True) returns")
    wandb = _wandb()
    from efficientdet_adapter.pictures.draw import display_image  # noqa: PLC0415

    images = []
    for pred in preds:
        if pred.img is None:
            raise UsageError(
                f"prediction {pred.record_id!r} has no image: predict with keep_images=True"
            )
        class_map = pred.class_map
        labels = None if class_map is None else dict(enumerate(class_map.get_classes()))
        boxes: dict[str, Any] = {
            "predictions": {
                "box_data": _boxes(pred.boxes[pred.keep], pred.kept_label_ids, class_map,
                                   pred.kept_scores),
                **({"class_labels": labels} if labels else {}),
            }
        }
        truth = pred.ground_truth
        if add_ground_truth and truth is not None:
            boxes["ground_truth"] = {
                "box_data": _boxes([b.xyxy for b in truth.bboxes], truth.label_ids, class_map),
                **({"class_labels": labels} if labels else {}),
            }
        images.append(wandb.Image(display_image(pred.img, denormalize=False), boxes=boxes))
    return images


def fix_fastai_wandb_config() -> bool:
    """Work around fastai issue #4173 (open; fastai 2.8.12 with fastcore >= 2.2.21).

    ``WandbCallback`` fails in ``before_fit`` on every learner, because its config formatting
    calls ``fastcore.init_args`` on plain values (``True``, batch sizes, strings) and ``vars()``
    refuses them. Only when that bug is present, values without a ``__dict__`` are passed
    through unchanged, which is what fastai did before. ``efficientdet.fastai``'s learner calls
    this when it fits with a ``WandbCallback`` (nothing is patched on import). Returns whether
    the fix was applied now; ``tests/test_integrations.py`` checks that the bug is still there
    upstream.
    """
    try:
        from fastai.callback import wandb as fastai_wandb  # noqa: PLC0415
    except ImportError:  # fastai or wandb not installed: nothing to fix
        return False
    original = getattr(fastai_wandb, "_format_config_value", None)
    if original is None or getattr(original, "_primitives_pass", False):
        return False
    try:
        original(True)
        return False  # fixed upstream
    except TypeError:
        pass

    def format_config_value(v: Any) -> Any:
        if not isinstance(v, list) and not hasattr(v, "__dict__"):
            return v
        return original(v)

    format_config_value._primitives_pass = True  # type: ignore[attr-defined]
    fastai_wandb._format_config_value = format_config_value
    return True
