"""Transforms for detection records, under IceVision's names: ``tfms.A.*``.

``tfms.A`` is [`albumentations_adapter`][efficientdet_adapter.tfms.albumentations_adapter]
(``Adapter``, ``aug_tfms``, ``resize_and_pad``,
``Normalize``, ``geometry``); any other ``tfms.A.<Name>`` is albumentations' own class.

Example:
    >>> from efficientdet_adapter import tfms
    >>> train_tfm = tfms.A.Adapter([*tfms.A.aug_tfms(384, presize=512), tfms.A.Normalize()])
    >>> valid_tfm = tfms.A.Adapter([*tfms.A.resize_and_pad(384), tfms.A.Normalize()])
"""

from __future__ import annotations

from efficientdet_adapter.records.dataset import Transform
from efficientdet_adapter.tfms import albumentations_adapter as A
from efficientdet_adapter.tfms.albumentations_adapter import Adapter, Geometry, geometry

__all__ = ["A", "Adapter", "Geometry", "Transform", "geometry"]

#: IceVision 0.12's names of ``icevision.tfms`` that this library does not offer, and why.
NOT_OFFERED: dict[str, str] = {"SoftDependencies": "an IceVision internal with no counterpart here"}


def __getattr__(name: str):
    """``tfms.batch``: IceVision's batch transforms (``tfms.batch.ImgPadStack``), imported on
    first use; it is one of IceVision's faces, which this layer does not import at load."""
    if name == "batch":
        import importlib  # noqa: PLC0415

        return importlib.import_module(".batch", __name__)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
