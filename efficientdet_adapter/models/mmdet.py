"""IceVision's ``icevision.models.mmdet``: not offered; importing it says so."""

raise ImportError(
    "efficientdet_adapter.models.mmdet: IceVision's mmdet models are not offered; "
    "efficientdet_adapter trains EfficientDet only: use models.ross.efficientdet (with "
    "backbone=model_type.backbones.tf_lite0 and img_size=...)"
)
