"""IceVision's ``models.ross``: Ross Wightman's EfficientDet, ``models.ross.efficientdet`` (the
face of [`efficientdet_adapter.efficientdet`][efficientdet_adapter.efficientdet], with IceVision's
submodule paths)."""

from efficientdet_adapter.models.ross import efficientdet

__all__ = ["efficientdet"]
