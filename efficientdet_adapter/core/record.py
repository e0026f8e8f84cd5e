"""IceVision 0.12's ``icevision.core.record``: ``BaseRecord(components)`` is a
`ComponentRecord` (a ``Record`` with components)."""

from __future__ import annotations

import logging
from collections.abc import Iterable

from efficientdet_adapter.base.errors import AutofixAbort
from efficientdet_adapter.records.components import ComponentRecord
from efficientdet_adapter.records.record import Record

__all__ = ["BaseRecord", "autofix_records"]

logger = logging.getLogger(__name__)

BaseRecord = ComponentRecord


def autofix_records(records: Iterable[Record], show_pbar: bool = True) -> list[Record]:
    """IceVision's ``autofix_records``: each record fixed in place
    ([`Record.autofix`][efficientdet_adapter.records.record.Record.autofix]:
    boxes clipped to the image, those with no area left dropped); a record that cannot be fixed
    ([`AutofixAbort`][efficientdet_adapter.base.errors.AutofixAbort]: a missing image file, annotation
    lists
    of different lengths) is left out, and logged. ``RecordCollection.autofix`` is the
    library's way: it fixes copies."""
    kept = []
    for record in records:
        try:
            record.autofix()
        except AutofixAbort as e:
            logger.warning("autofix_records: record %r left out: %s", record.record_id, e)
            continue
        kept.append(record)
    return kept
