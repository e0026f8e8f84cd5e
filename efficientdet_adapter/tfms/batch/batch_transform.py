"""IceVision 0.12's ``icevision.tfms.batch.batch_transform``: a transform of a list of records."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

__all__ = ["BatchTransform"]


class BatchTransform(ABC):
    """Transforms a list of records at once: ``tfm(records) -> records``."""

    def __call__(self, records: list[Any]) -> list[Any]:
        return self.apply(records=records)

    @abstractmethod
    def apply(self, records: list[Any]) -> list[Any]:
        """Transform ``records`` (in place) and return them."""
