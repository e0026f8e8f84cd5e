"""IceVision's ``RecordCollection``: the list of records that parsers and splits return.

It is a ``list`` of [`Record`][efficientdet_adapter.records.record.Record] (everything that takes a list
of records takes it), with IceVision's methods: `get_by_record_id`,
`make_splits`, `autofix`, ``new``, ``+`` and
slicing that stay collections.

Example:
    >>> from efficientdet_adapter.records.splitters import FixedSplitter
    >>> rc = RecordCollection([Record(i, None, 8, 8) for i in range(4)])
    >>> train, valid = rc.make_splits(FixedSplitter([[0, 1, 2], [3]]))
    >>> type(valid).__name__, len(train), train.get_by_record_id(2).record_id
    ('RecordCollection', 3, 2)
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Hashable, Iterable, Sequence
from typing import Any

from efficientdet_adapter.records.record import Record
from efficientdet_adapter.records.splitters import DataSplitter

__all__ = ["RecordCollection"]

logger = logging.getLogger(__name__)


class RecordCollection(list):
    """A list of records with IceVision's ``RecordCollection`` methods.

    Args:
        records: the records; or, IceVision's way, a function that makes an empty record
            (``RecordCollection(parser.create_record)``), for `get_by_record_id`.
        create_record_fn: that function, when ``records`` are given too.
    """

    def __init__(self, records: Iterable[Record] | Callable[[], Record] = (),
                 create_record_fn: Callable[[], Record] | None = None) -> None:
        if callable(records) and not isinstance(records, Iterable):
            records, create_record_fn = (), records
        super().__init__(records)
        self.create_record_fn = create_record_fn

    def get_by_record_id(self, record_id: Hashable) -> Record:
        """The record with ``record_id``; a new one (from ``create_record_fn``, appended) when
        there is none and the collection has that function.

        Raises:
            KeyError: no such record and no ``create_record_fn``.
        """
        for record in self:
            if record.record_id == record_id:
                record.is_new = False
                return record
        if self.create_record_fn is None:
            some = [r.record_id for r in self[:5]]
            raise KeyError(f"record_id {record_id!r} is not in this collection of {len(self)} "
                           f"records (ids like {some})")
        record = self.create_record_fn()
        record.set_record_id(record_id)
        record.is_new = True
        self.append(record)
        return record

    def new(self, records: Iterable[Record]) -> "RecordCollection":
        """A collection of ``records`` with this one's ``create_record_fn``."""
        return type(self)(records, create_record_fn=self.create_record_fn)

    def __add__(self, other: Iterable[Record]) -> "RecordCollection":  # type: ignore[override]
        """Both collections' records, merged by ``record_id`` as IceVision's: a record of
        ``other`` replaces this one's record of the same id, in its place."""
        by_id: dict[Hashable, Record] = {}
        for record in [*self, *other]:
            by_id[record.record_id] = record
        return self.new(by_id.values())

    def __getitem__(self, i: Any) -> Any:
        got = super().__getitem__(i)
        return self.new(got) if isinstance(i, slice) else got

    def make_splits(self, data_splitter: DataSplitter) -> list["RecordCollection"]:
        """One collection per split of ``data_splitter`` (which returns record ids)."""
        by_id = {r.record_id: r for r in self}
        return [self.new([by_id[i] for i in ids if i in by_id])
                for ids in data_splitter.split(self)]

    def autofix(self, show_pbar: bool = True) -> "RecordCollection":
        """Copies of the records with their boxes clipped to the image and boxes with no area
        left dropped ([`Record.autofix`][efficientdet_adapter.records.record.Record.autofix]); how many
        were dropped is logged."""
        fixed, dropped = [], 0
        for record in self:
            copy = record.copy()
            dropped += copy.autofix()["detection"]["bboxes"].count(False)
            fixed.append(copy)
        if dropped:
            logger.warning("autofix: dropped %d box(es) with no area inside their image", dropped)
        return self.new(fixed)

    def __repr__(self) -> str:
        return f"<RecordCollection with {len(self)} records>"

