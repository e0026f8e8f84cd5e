"""IceVision's ``models.ross``: Ross Wightman's EfficientDet, i.e. :mod:`efficientdet`."""

from ... import efficientdet

__all__ = ["efficientdet"]
