"""What a parse fixed or noticed: the reasons, the report that counts them, and the box checks
that every parser's records go through (`Parser` in [`base`][efficientdet_adapter.parsers.base]
calls `check_lengths` and `fix_boxes`; ``base`` re-exports the rest)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from efficientdet_adapter.records import size_check as _size_check
from efficientdet_adapter.records.bbox import BBox
from efficientdet_adapter.base.errors import ParseError
from efficientdet_adapter.records.record import Record

__all__ = ["MISSING_IMAGE", "CLIPPED_BOX", "DROPPED_BOX", "SIZE_MISMATCH", "EXIF_ROTATION",
           "RESIZED", "UNUSED_CATEGORY", "SKIPPED_RECORD", "UNREADABLE_IMAGE", "NONFINITE_BOX",
           "AbortParseRecord", "ParseReport", "check_lengths", "fix_boxes"]

# Report reasons (the keys of ParseReport.counts). Parsers may add their own.
MISSING_IMAGE = "record dropped: image file missing"
CLIPPED_BOX = "box clipped to the image"
DROPPED_BOX = "box dropped: no area inside the image"
# size_check's fixes; a size it cannot fix (another aspect ratio) drops the record
SIZE_MISMATCH = "record dropped: image size does not fit the annotation"
EXIF_ROTATION = _size_check.EXIF_ROTATION
RESIZED = _size_check.RESIZED
UNUSED_CATEGORY = "category dropped: used by no box"
SKIPPED_RECORD = "record skipped by the parser"
UNREADABLE_IMAGE = "record dropped: image header unreadable"
NONFINITE_BOX = "box dropped: a coordinate is infinite or NaN"


class AbortParseRecord(Exception):
    """Raise inside ``parse_fields`` to skip the current record (counted in the report)."""




@dataclass
class ParseReport:
    """What a parse fixed or noticed, counted per reason, with the files concerned.

    Example:
        >>> rep = ParseReport()
        >>> rep.add(CLIPPED_BOX, "a.jpg box 0")
        >>> rep.counts, rep.total
        ({'box clipped to the image': 1}, 1)
    """

    counts: dict[str, int] = field(default_factory=dict)
    items: dict[str, list[str]] = field(default_factory=dict)

    def add(self, reason: str, where: str) -> None:
        """Count one fix (or notice) of kind ``reason`` at ``where`` (file name, annotation)."""
        self.counts[reason] = self.counts.get(reason, 0) + 1
        self.items.setdefault(reason, []).append(str(where))

    def update(self, other: "ParseReport") -> None:
        """Add every entry of ``other`` (e.g. to combine the reports of several splits)."""
        for reason, wheres in other.items.items():
            for where in wheres:
                self.add(reason, where)

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def summary(self) -> str:
        """One line: ``"2 fixes: box clipped to the image x1, ..."`` or ``"no fixes"``."""
        if not self.counts:
            return "no fixes"
        parts = ", ".join(f"{reason} x{n}" for reason, n in self.counts.items())
        return f"{self.total} fix{'es' if self.total != 1 else ''}: {parts}"

    def __str__(self) -> str:
        lines = [f"ParseReport: {self.summary()}"]
        for reason, n in self.counts.items():
            shown = self.items[reason][:5]
            more = f" (+{n - len(shown)} more)" if n > len(shown) else ""
            lines.append(f"  {reason}: {n}: {'; '.join(shown)}{more}")
        return "\n".join(lines)


def check_lengths(r: Record, n: int) -> None:
    where = r.filepath or f"record {r.record_id!r}"
    if len(r.labels) != n:
        raise ParseError(
            f"{where}: {len(r.labels)} labels for {n} boxes; every box needs exactly one label "
            "(check the parser's add_labels / add_bboxes calls or the annotation file)"
        )
    for name, values in (("iscrowds", r.iscrowds), ("areas", r.areas)):
        if values is not None and len(values) != n:
            raise ParseError(f"{where}: {len(values)} {name} for {n} boxes; give one per box")


def fix_boxes(r: Record, autofix: bool, report: ParseReport) -> None:
    """Clip the record's boxes to its image and drop those with no area left (in place)."""
    w, h = float(r.width), float(r.height)
    bad = [
        i
        for i, b in enumerate(r.bboxes)
        if not (0.0 <= b.xmin < b.xmax <= w and 0.0 <= b.ymin < b.ymax <= h)
    ]
    if not bad:
        return
    where = r.filepath.name if r.filepath is not None else f"record {r.record_id!r}"
    drop: set[int] = set()
    boxes = list(r.bboxes)
    for i in bad:
        b = boxes[i]
        if not all(math.isfinite(v) for v in b.xyxy):  # inf would clip into a real-looking box
            desc = (f"{where} box {i} ({r.labels[i]}) {_fmt(b.xyxy)}: a coordinate is not a "
                    "finite number")
            if not autofix:
                raise ParseError(f"{desc}; fix the annotation or parse with autofix=True to drop "
                                 "the box")
            report.add(NONFINITE_BOX, desc)
            drop.add(i)
            continue
        clipped = BBox(min(max(b.xmin, 0.0), w), min(max(b.ymin, 0.0), h),
                       min(max(b.xmax, 0.0), w), min(max(b.ymax, 0.0), h))
        collapses = not clipped.is_valid()
        desc = (
            f"{where} box {i} ({r.labels[i]}) {_fmt(b.xyxy)} in a {r.width}x{r.height} image"
        )
        if not autofix:
            what = "has no area inside" if collapses else "extends outside"
            raise ParseError(
                f"{desc} {what} the image; fix the annotation or parse with autofix=True"
            )
        if collapses:
            report.add(DROPPED_BOX, desc)
            drop.add(i)
        else:
            report.add(CLIPPED_BOX, desc)
            boxes[i] = clipped
    r.bboxes = boxes
    if drop:
        kept = r.select([i for i in range(len(boxes)) if i not in drop])
        r.bboxes, r.labels, r.label_ids = kept.bboxes, kept.labels, kept.label_ids
        r.iscrowds, r.areas = kept.iscrowds, kept.areas


def _fmt(xyxy: tuple[float, ...]) -> str:
    return "(" + ", ".join(f"{v:g}" for v in xyxy) + ")"
