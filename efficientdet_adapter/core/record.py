"""IceVision 0.12's ``icevision.core.record``: ``BaseRecord`` is
[`Record`][efficientdet_adapter.records.Record]."""

from __future__ import annotations

from collections.abc import Iterable

from ..record_collection import RecordCollection
from ..records import Record

__all__ = ["BaseRecord", "autofix_records"]

BaseRecord = Record


def autofix_records(records: Iterable[Record], show_pbar: bool = True) -> list[Record]:
    """IceVision's ``autofix_records``: copies with boxes clipped to the image and boxes with no
    area left dropped (see `RecordCollection.autofix`)."""
    return list(RecordCollection(records).autofix())
