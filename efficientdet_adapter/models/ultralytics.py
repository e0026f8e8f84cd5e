"""IceVision's ``icevision.models.ultralytics``: not offered; importing it says so."""

raise ImportError(
    "efficientdet_adapter.models.ultralytics: IceVision's ultralytics models are not offered; "
    "efficientdet_adapter trains EfficientDet only: use models.ross.efficientdet (with "
    "backbone=model_type.backbones.tf_lite0 and img_size=...)"
)
