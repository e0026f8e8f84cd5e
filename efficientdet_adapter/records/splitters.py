"""Data splitters: how ``Parser.parse`` divides records into train / valid (/ test) groups.

A splitter maps the parsed records (in parse order) to lists of record ids, one list per split,
exactly as IceVision's splitters do, so a custom IceVision splitter that returns ids keeps working.
``Parser.parse`` turns the ids back into records.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence

import numpy as np

from efficientdet_adapter.base.errors import ArgumentError, ParseError
from efficientdet_adapter.records.record import Record

__all__ = ["DataSplitter", "RandomSplitter", "FixedSplitter", "FuncSplitter",
           "SingleSplitSplitter"]


class DataSplitter:
    """Base class: subclasses implement
    [`split`][efficientdet_adapter.records.splitters.DataSplitter.split]; calling the splitter calls
    ``split``."""

    def split(self, records: Sequence[Record]) -> list[list[Hashable]]:
        """Record ids of each split, in the order they should appear."""
        raise NotImplementedError(f"{type(self).__name__} must implement split(records)")

    def __call__(self, records: Sequence[Record]) -> list[list[Hashable]]:
        return self.split(records)


class SingleSplitSplitter(DataSplitter):
    """All records in one split, in parse order.

    Example:
        >>> SingleSplitSplitter()([Record(i, None, 8, 8) for i in range(3)])
        [[0, 1, 2]]
    """

    def split(self, records: Sequence[Record]) -> list[list[Hashable]]:
        return [[r.record_id for r in records]]


class RandomSplitter(DataSplitter):
    """Random splits with the given fractions, reproducible with ``seed`` (IceVision's math).

    The split sizes are ``ceil(p * n)`` for each fraction ``p``, with the excess taken from the
    largest split, so every non-zero fraction gets at least one record. The records are shuffled
    by a numpy permutation seeded with ``seed`` (the legacy ``np.random.seed`` stream, without
    touching numpy's global state), so the same records in the same parse order give the same
    splits as IceVision's ``RandomSplitter``.

    Args:
        probs: one fraction per split, summing to 1.
        seed: the shuffle seed; ``None`` shuffles differently on every call.

    Example:
        >>> recs = [Record(i, None, 8, 8) for i in range(4)]
        >>> RandomSplitter([0.5, 0.5], seed=0)(recs)
        [[2, 3], [1, 0]]
    """

    def __init__(self, probs: Sequence[float], seed: int | None = None):
        probs = [float(p) for p in probs]
        if not probs or any(p < 0 for p in probs) or abs(sum(probs) - 1.0) > 1e-6:
            raise ArgumentError(f"RandomSplitter probs must be non-negative and sum to 1, got {probs}")
        self.probs = probs
        self.seed = seed

    def split_sizes(self, n: int) -> list[int]:
        """How many records each split gets out of ``n``."""
        sizes = np.ceil(np.array(self.probs) * n).astype(int)
        sizes[sizes.argmax()] -= int(sizes.sum()) - n
        return sizes.tolist()

    def split(self, records: Sequence[Record]) -> list[list[Hashable]]:
        ids = [r.record_id for r in records]
        order = np.random.RandomState(self.seed).permutation(len(ids))
        bounds = np.cumsum(self.split_sizes(len(ids)))[:-1].tolist()
        return [[ids[i] for i in part] for part in np.split(order, bounds)]


class FixedSplitter(DataSplitter):
    """Predefined splits given as lists of record ids.

    Raises:
        ParseError: at split time, when a listed id is not among the parsed records (the message
            lists the first unknown ids).

    Example:
        >>> FixedSplitter([[2], [0, 1]])([Record(i, None, 8, 8) for i in range(3)])
        [[2], [0, 1]]
    """

    def __init__(self, splits: Sequence[Sequence[Hashable]]):
        self.splits = [list(s) for s in splits]

    def split(self, records: Sequence[Record]) -> list[list[Hashable]]:
        known = {r.record_id for r in records}
        unknown = [i for s in self.splits for i in s if i not in known]
        if unknown:
            some = sorted(known, key=repr)[:5]
            raise ParseError(
                f"FixedSplitter: {len(unknown)} record id(s) are not among the {len(known)} parsed "
                f"records: {unknown[:10]}; parsed ids look like {some} (record ids are what the "
                "parser's record_id returns)"
            )
        return [list(s) for s in self.splits]


class FuncSplitter(DataSplitter):
    """Splits made by a function of the records that returns lists of record ids (IceVision's).

    Example:
        >>> FuncSplitter(lambda rs: [[r.record_id for r in rs if r.record_id % 2 == 0],
        ...                          [r.record_id for r in rs if r.record_id % 2]])(
        ...     [Record(i, None, 8, 8) for i in range(4)])
        [[0, 2], [1, 3]]
    """

    def __init__(self, func):
        self.func = func

    def split(self, records: Sequence[Record]) -> list[list[Hashable]]:
        return [list(ids) for ids in self.func(records)]
