"""Splitters: IceVision's RandomSplitter math, FixedSplitter, SingleSplitSplitter."""

from __future__ import annotations

import math

import numpy as np
import pytest

from efficientdet_adapter.base.errors import ParseError
from efficientdet_adapter.records.record import Record
from efficientdet_adapter.records.splitters import (
    DataSplitter,
    FixedSplitter,
    RandomSplitter,
    SingleSplitSplitter,
)


def records(ids):
    return [Record(record_id=i, filepath=None, width=8, height=8) for i in ids]


def icevision_reference(ids, probs, seed):
    """IceVision 0.12's procedure, spelled out: ceil sizes, excess off the largest split, a
    permutation of the ids under ``np.random.seed(seed)``, split at the cumulative sizes."""
    sizes = [math.ceil(p * len(ids)) for p in probs]
    sizes[sizes.index(max(sizes))] -= sum(sizes) - len(ids)
    state = np.random.get_state()
    np.random.seed(seed)
    as_array = np.empty(len(ids), dtype=object)  # filled one by one: tuples stay whole
    for k, i in enumerate(ids):
        as_array[k] = i
    shuffled = list(np.random.permutation(as_array))
    np.random.set_state(state)
    out, start = [], 0
    for size in sizes:
        out.append(shuffled[start:start + size])
        start += size
    return out


@pytest.mark.parametrize(
    "n, probs, sizes",
    [
        (10, [0.8, 0.2], [8, 2]),
        (2, [0.8, 0.2], [1, 1]),  # ceil(1.6), ceil(0.4) = 2, 1; 1 excess off the largest
        (3, [0.8, 0.2], [2, 1]),  # ceil(2.4), ceil(0.6) = 3, 1
        (7, [0.6, 0.2, 0.2], [3, 2, 2]),  # ceil 5, 2, 2 = 9; 2 excess off the first
        (118_287, [0.8, 0.2], [94_629, 23_658]),  # ceil(94629.6)=94630, ceil(23657.4)=23658
        (0, [0.8, 0.2], [0, 0]),
    ],
)
def test_random_split_sizes(n, probs, sizes):
    splitter = RandomSplitter(probs, seed=1)
    assert splitter.split_sizes(n) == sizes
    if n <= 1000:
        assert [len(s) for s in splitter(records(range(n)))] == sizes


@pytest.mark.parametrize(
    "ids, probs, seed",
    [
        (list(range(37)), [0.8, 0.2], 42),
        ([f"img_{i}.jpg" for i in range(25)], [0.6, 0.2, 0.2], 0),
        ([1000 + 7 * i for i in range(11)], [0.7, 0.3], 123),
        ([(i, "x") for i in range(9)], [0.5, 0.5], 7),  # any hashable id
    ],
)
def test_random_splitter_matches_icevision(ids, probs, seed):
    got = RandomSplitter(probs, seed=seed)(records(ids))
    assert got == icevision_reference(ids, probs, seed)
    assert sorted(map(repr, sum(got, []))) == sorted(map(repr, ids))  # each id exactly once


def test_random_splitter_hand_checked_and_leaves_numpy_state_alone():
    np.random.seed(5)
    before = np.random.random()
    np.random.seed(5)
    # np.random.RandomState(0).permutation(4) is [2, 3, 1, 0]
    assert RandomSplitter([0.5, 0.5], seed=0)(records(range(4))) == [[2, 3], [1, 0]]
    assert np.random.random() == before


@pytest.mark.parametrize("probs", [[0.5, 0.6], [1.2, -0.2], []])
def test_random_splitter_rejects_bad_probs(probs):
    with pytest.raises(ValueError, match="sum to 1"):
        RandomSplitter(probs)


def test_fixed_splitter_keeps_order_and_names_unknown_ids():
    recs = records(["a", "b", "c", "d"])
    assert FixedSplitter([["d", "a"], ["c"]])(recs) == [["d", "a"], ["c"]]
    with pytest.raises(ParseError, match=r"2 record id\(s\).*\['x', 'y'\]"):
        FixedSplitter([["a", "x"], ["y"]])(recs)


def test_single_split_splitter_keeps_parse_order():
    assert SingleSplitSplitter()(records([3, 1, 2])) == [[3, 1, 2]]


def test_data_splitter_is_abstract():
    with pytest.raises(NotImplementedError, match="must implement split"):
        DataSplitter()(records([1]))
