"""IceVision 0.12's ``icevision.tfms.batch.img_pad_stack``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from efficientdet_adapter.tfms.batch.batch_transform import BatchTransform

__all__ = ["ImgPadStack"]


class ImgPadStack(BatchTransform):
    """Pads every record's image to the largest height, width and channel count of the batch
    with ``pad_value`` (one value, or one per channel), at the bottom and right; the records keep
    their ``width`` and ``height``.

    Example:
        >>> from efficientdet_adapter.records.components import ComponentRecord, ImageRecordComponent
        >>> r = ComponentRecord((ImageRecordComponent(),)); r.set_img(np.ones((2, 4, 3)))
        >>> s = ComponentRecord((ImageRecordComponent(),)); s.set_img(np.ones((3, 2, 3)))
        >>> [x.img.shape for x in ImgPadStack(0)([r, s])], (s.height, s.width)
        ([(3, 4, 3), (3, 4, 3)], (3, 2))
    """

    def __init__(self, pad_value: float | Sequence[float] = 0.0) -> None:
        self.pad_value = np.array(pad_value).reshape(-1)

    def apply(self, records: list[Any]) -> list[Any]:
        shape = np.max([record.img.shape for record in records], axis=0)
        padded = np.empty((len(records), *shape), dtype=records[0].img.dtype)
        padded[...] = self.pad_value
        for record, out in zip(records, padded):
            h, w, c = record.img.shape
            out[:h, :w, :c] = record.img
            record.img = out
        return records
