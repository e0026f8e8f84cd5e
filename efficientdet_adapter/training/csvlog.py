"""``metrics.csv``: one row per epoch, kept whole across ``--resume``.

Columns are the union of every row's keys in first-seen order (epoch, step, losses, the 12 COCO
keys, per-class AP, learning rate, seconds, ...). The file is rewritten atomically after each
epoch; a resumed run first drops the rows of epochs it is about to repeat, so no epoch appears
twice.

Example:
    >>> log = MetricsCSV("runs/x/metrics.csv")         # doctest: +SKIP
    >>> log.append({"epoch": 1, "train_loss": 1.2})     # doctest: +SKIP
    >>> read_metrics_csv("runs/x/metrics.csv")[0]["train_loss"]   # doctest: +SKIP
    1.2
"""

from __future__ import annotations

import csv
import io
import math
from pathlib import Path
from typing import Any

from efficientdet_adapter.base.atomic import atomic_write_text
from efficientdet_adapter.base.errors import ArgumentError

__all__ = ["MetricsCSV", "read_metrics_csv"]


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return "" if not math.isfinite(value) else repr(value)
    return str(value)


def _parse(text: str) -> Any:
    if text == "":
        return None
    try:
        number = float(text)
    except ValueError:
        return text
    return int(number) if number.is_integer() and "." not in text and "e" not in text else number


def read_metrics_csv(path: str | Path) -> list[dict[str, Any]]:
    """The rows of a ``metrics.csv`` with numbers parsed (empty cells are ``None``)."""
    path = Path(path)
    if not path.is_file():
        return []
    with path.open(newline="", encoding="utf-8") as f:
        return [{k: _parse(v) for k, v in row.items()} for row in csv.DictReader(f)]


class MetricsCSV:
    """Append-only in meaning, rewritten atomically in fact (see the module docstring)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.rows = read_metrics_csv(self.path)

    def keep_until(self, epoch: int) -> None:
        """Drop the rows of epochs after ``epoch`` (0: start a new file)."""
        if isinstance(epoch, bool) or not isinstance(epoch, int) or epoch < 0:
            raise ArgumentError(f"{self.path}: keep_until({epoch!r}): an epoch count is an int >= 0")
        kept = [r for r in self.rows if isinstance(r.get("epoch"), int) and r["epoch"] <= epoch]
        if kept != self.rows or (epoch == 0 and self.path.exists()):
            self.rows = kept
            self._write()

    def append(self, row: dict[str, Any]) -> None:
        self.rows = [r for r in self.rows if r.get("epoch") != row.get("epoch")] + [dict(row)]
        self._write()

    def _write(self) -> None:
        columns: dict[str, None] = {}
        for row in self.rows:
            columns.update(dict.fromkeys(row))
        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=list(columns), lineterminator="\n")
        writer.writeheader()
        for row in self.rows:
            writer.writerow({k: _cell(row.get(k)) for k in columns})
        atomic_write_text(self.path, buf.getvalue())
