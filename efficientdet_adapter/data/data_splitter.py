"""IceVision 0.12's ``icevision.data.data_splitter``."""

from __future__ import annotations

from efficientdet_adapter.records.splitters import (
    DataSplitter,
    FixedSplitter,
    FuncSplitter,
    RandomSplitter,
    SingleSplitSplitter,
)

__all__ = ["DataSplitter", "SingleSplitSplitter", "RandomSplitter", "FixedSplitter", "FuncSplitter"]
