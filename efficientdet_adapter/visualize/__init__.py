"""IceVision's ``visualize`` package, a face: the drawing lives in
[`pictures.draw`][efficientdet_adapter.pictures.draw] (records, samples and predictions with
their boxes); IceVision's modules (``draw_data``, ``show_data``, ``utils``, ``wandb_img``) sit
beside this file."""

from efficientdet_adapter.pictures.draw import (
    as_rgb_tuple,
    color_for,
    display_image,
    draw_boxes,
    draw_record,
    draw_sample,
    finish,
    get_default_font,
    grid,
    IMAGENET_MEAN,
    IMAGENET_STD,
    PALETTE,
    pixels,
    render,
    short_title,
    show_record,
    show_records,
    show_sample,
    show_samples,
)

__all__ = [
    "as_rgb_tuple", "draw_sample", "IMAGENET_MEAN", "IMAGENET_STD", "PALETTE", "color_for",
    "display_image", "draw_boxes", "draw_record", "finish", "get_default_font", "grid",
    "pixels", "render", "short_title", "show_record", "show_records", "show_sample",
    "show_samples"
]

#: IceVision 0.12's names of ``icevision.visualize`` that this face does not offer, and why
#: (pictures of predictions live with the model: ``efficientdet_adapter.show_preds``; all of
#: IceVision's show/draw names are under ``efficientdet_adapter.visualize.show_data`` and
#: ``.draw_data``).
NOT_OFFERED: dict[str, str] = {
    **dict.fromkeys(["show_pred", "show_preds", "draw_pred"],
                    "predictions are drawn by efficientdet_adapter.show_preds/show_pred "
                    "(also at efficientdet_adapter.visualize.show_data and .draw_data)"),
    **dict.fromkeys(["draw_bbox", "draw_label", "bbox_polygon", "rand_cmap"],
                    "the parts of a picture: draw_record draws boxes and labels; draw_boxes "
                    "draws boxes on an image"),
    **dict.fromkeys(["draw_mask", "draw_segmentation_mask"], "masks: boxes only here"),
    "draw_keypoints": "keypoints: boxes only here",
    "SoftDependencies": "an IceVision internal with no counterpart here",
}
