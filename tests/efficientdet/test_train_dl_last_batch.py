"""train_dl drops a last batch of one image (BatchNorm cannot train on it) and nothing else."""

from __future__ import annotations

import numpy as np
import pytest

from efficientdet_adapter import BBox, Record
from efficientdet_adapter.efficientdet import train_dl


def _records(n: int) -> list[Record]:
    img = np.zeros((64, 64, 3), np.float32)
    return [
        Record(record_id=i, filepath=None, width=64, height=64, labels=["a"], label_ids=[1],
               bboxes=[BBox.from_xyxy(4, 4, 30, 30)], img=img)
        for i in range(n)
    ]


@pytest.mark.parametrize(
    "n, batch_size, kwargs, sizes",
    [
        (17, 8, {}, [8, 8]),  # the last batch would hold one image: dropped
        (18, 8, {}, [8, 8, 2]),  # a last batch of two is kept
        (16, 8, {}, [8, 8]),
        (17, 8, {"drop_last": False}, [8, 8, 1]),  # the user's choice wins
        (1, 8, {}, [1]),  # a one-image dataset still yields its batch
    ],
)
def test_last_batch_of_one_is_dropped(n, batch_size, kwargs, sizes):
    dl = train_dl(_records(n), batch_size=batch_size, **kwargs)
    assert [len(records) for (_, records) in dl] == sizes
