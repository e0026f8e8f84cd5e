"""A dataset health report before training: ``efficientdet-adapter check --data EXPORT``.

What it counts, per split and class: images, boxes, images without boxes; the boxes that the
model's anchors can hardly match at the chosen ``img_size`` (no anchor shape reaches IoU 0.5 with
the box even when centred on it; see
[`anchor_sizes`][efficientdet_adapter.model.anchor_sizes]);
the best possible recall of the train split (the share of its boxes that an anchor matches at IoU
>= 0.5, anchors placed as effdet places them) and which pyramid level matches them (see
`anchor_fit`);
what the parse fixed or dropped (clipped boxes, dropped boxes and categories); images on disk
that no annotation names; near-duplicate images across splits (a 64-bit difference hash of a
downscaled grayscale image: same content under other names, as Roboflow's augmentation and
re-uploads make, which leaks training images into validation); class imbalance.

Example:
    >>> report = check_dataset("export", img_size=384)        # doctest: +SKIP
    >>> print(report.table())                                  # doctest: +SKIP
    >>> report.save_png("check.png")                           # doctest: +SKIP
"""

from __future__ import annotations

import itertools
import math
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from efficientdet_adapter.base.atomic import atomic_save
from efficientdet_adapter.model.anchor_fit import TARGET_BPR, AnchorMatch, anchor_match, input_boxes
from efficientdet_adapter.base.errors import UsageError
from efficientdet_adapter.records.images import list_image_files

__all__ = ["SplitSummary", "DuplicatePair", "DatasetReport", "check_dataset", "dhash",
           "best_anchor_iou"]

#: Hashes that differ in at most this many of 64 bits are near-duplicates.
DUPLICATE_BITS = 4


@dataclass
class SplitSummary:
    """Counts of one split."""

    split: str
    images: int
    boxes: int
    without_boxes: int
    boxes_per_class: dict[str, int]
    hard_to_match: int  # boxes no anchor matches with IoU >= 0.5 at the chosen img_size
    unannotated_files: int  # image files in the split's folder that no annotation names


@dataclass(frozen=True)
class DuplicatePair:
    """Two images of different splits whose hashes differ in ``bits`` of 64."""

    split_a: str
    file_a: str
    split_b: str
    file_b: str
    bits: int


@dataclass
class DatasetReport:
    """The result of [`check_dataset`][efficientdet_adapter.app.check.check_dataset];
    [`table`][efficientdet_adapter.app.check.DatasetReport.table] prints it,
    [`save_png`][efficientdet_adapter.app.check.DatasetReport.save_png] draws it."""

    data: Path
    model_name: str
    img_size: int
    smallest_anchor: float  # input pixels
    classes: list[str]
    splits: list[SplitSummary]
    box_sides: dict[str, np.ndarray] = field(repr=False)  # per split, sqrt(w*h) in input pixels
    parse_fixes: dict[str, int] = field(default_factory=dict)
    duplicates: list[DuplicatePair] = field(default_factory=list)
    #: the train split's boxes against the model's anchors, placed as effdet places them: the
    #: best possible recall and the box-size distribution (None: no train split)
    anchor_match: AnchorMatch | None = None

    @property
    def imbalance(self) -> float:
        """Boxes of the most common class / boxes of the rarest (``inf`` when one has none)."""
        totals = self.class_totals
        if len(totals) < 2:
            return 1.0
        low = min(totals.values())
        return math.inf if low == 0 else max(totals.values()) / low

    @property
    def class_totals(self) -> dict[str, int]:
        """Boxes per class over every split."""
        return {c: sum(s.boxes_per_class.get(c, 0) for s in self.splits) for c in self.classes}

    @property
    def hard_to_match(self) -> int:
        return sum(s.hard_to_match for s in self.splits)

    def problems(self) -> list[str]:
        """One sentence per problem found, each saying what to do (empty: nothing found)."""
        out = []
        total = sum(s.boxes for s in self.splits)
        if self.hard_to_match:
            out.append(
                f"{self.hard_to_match} of {total} boxes are too small (or too thin) for the "
                f"smallest anchor ({self.smallest_anchor:g} px at --img-size {self.img_size}): "
                "train at a larger --img-size, or predict with --tile")
        m = self.anchor_match
        if m is not None and m.boxes and m.share < TARGET_BPR:
            out.append(
                f"best possible recall {m.share:.1%} at --img-size {self.img_size}: "
                f"{m.boxes - m.matched} train boxes have no anchor with IoU >= 0.5 (target "
                f"{TARGET_BPR:.0%}); train with --img-size auto and/or --anchors auto")
        empty = sum(s.without_boxes for s in self.splits)
        if empty:
            out.append(f"{empty} images have no boxes (they train as background only)")
        if self.duplicates:
            out.append(
                f"{len(self.duplicates)} near-duplicate image pairs across splits (the same "
                "picture under another name): validation scores are optimistic; keep each "
                "source image in one split")
        if self.imbalance >= 5:
            totals = self.class_totals
            rare = min(totals, key=totals.get)
            out.append(f"class imbalance {self.imbalance:.1f}:1 (rarest: {rare!r}, "
                       f"{totals[rare]} boxes)")
        missing = [c for c in self.classes
                   if not any(s.boxes_per_class.get(c) for s in self.splits if s.split != "train")]
        if missing and len(self.splits) > 1:
            out.append(f"classes without any box outside train (not scored): {missing}")
        if self.parse_fixes:
            out.append("the parse fixed or dropped: " + ", ".join(
                f"{k} x{v}" for k, v in self.parse_fixes.items()))
        unannotated = sum(s.unannotated_files for s in self.splits)
        if unannotated:
            out.append(f"{unannotated} image files are named by no annotation (not used)")
        return out

    def table(self) -> str:
        """The report as text: a table per split and class, then the problems."""
        cols = ["split", "images", "no boxes", "boxes", *self.classes, "hard to match",
                "unannotated"]
        rows = [[s.split, s.images, s.without_boxes, s.boxes,
                 *(s.boxes_per_class.get(c, 0) for c in self.classes), s.hard_to_match,
                 s.unannotated_files] for s in self.splits]
        rows.append(["all", *(sum(r[i] for r in rows) for i in range(1, len(cols)))])
        widths = [max(len(str(x)) for x in col) for col in zip(cols, *rows)]
        line = lambda r: "  ".join(str(x).rjust(w) if i else str(x).ljust(w)  # noqa: E731
                                   for i, (x, w) in enumerate(zip(r, widths)))
        sides = np.concatenate(list(self.box_sides.values())) if self.box_sides else np.zeros(0)
        text = [
            f"{self.data}: {len(self.classes)} classes; {self.model_name} at --img-size "
            f"{self.img_size}: smallest anchor {self.smallest_anchor:g} px",
            line(cols), line(["-" * w for w in widths]), *map(line, rows),
        ]
        if len(sides):
            q = np.percentile(sides, [0, 50, 100])
            text.append(f"box size at the model's input (sqrt(w*h) px): min {q[0]:.1f}, median "
                        f"{q[1]:.1f}, max {q[2]:.1f}")
        if self.anchor_match is not None:
            text += self.anchor_match.summary()
        for pair in self.duplicates[:10]:
            text.append(f"near-duplicate ({pair.bits} of 64 bits differ): {pair.split_a}/"
                        f"{pair.file_a} ~ {pair.split_b}/{pair.file_b}")
        if len(self.duplicates) > 10:
            text.append(f"... and {len(self.duplicates) - 10} more pairs")
        problems = self.problems()
        text += [f"problem: {p}" for p in problems] or ["no problems found"]
        return "\n".join(text)

    def save_png(self, path: str | Path) -> Path:
        """Boxes per split and class, box sizes against the smallest anchor, and the problems."""
        from matplotlib.figure import Figure  # noqa: PLC0415

        path = Path(path)
        lines = self.problems() or ["no problems found"]
        # the text row as tall as its lines (it took half a 7-inch figure, 40% of it blank)
        text_in = 0.2 * len(lines) + 0.2
        fig = Figure(figsize=(12, 4.2 + text_in))
        rows = fig.add_gridspec(2, 2, height_ratios=[4.2, text_in])
        ax1, ax2 = fig.add_subplot(rows[0, 0]), fig.add_subplot(rows[0, 1])
        names = [s.split for s in self.splits]
        bottom = np.zeros(len(names))
        for c in self.classes:
            counts = np.array([s.boxes_per_class.get(c, 0) for s in self.splits], float)
            ax1.bar(names, counts, bottom=bottom, label=c)
            bottom += counts
        ax1.set_title("boxes per split and class")
        ax1.legend(fontsize=7)
        for split, sides in self.box_sides.items():
            if len(sides):
                ax2.hist(sides, bins=30, alpha=0.6, label=split)
        ax2.axvline(self.smallest_anchor, color="red", label="smallest anchor")
        ax2.axvline(self.smallest_anchor * math.sqrt(0.5), color="red", ls="--",
                    label="IoU 0.5 limit")
        ax2.set_xlabel(f"sqrt(w*h) at --img-size {self.img_size} (px)")
        ax2.set_title("box sizes at the model's input")
        ax2.legend(fontsize=7)
        ax3 = fig.add_subplot(rows[1, :])
        ax3.axis("off")
        ax3.text(0, 1, "\n".join(f"- {p}" for p in lines), va="top", fontsize=9, wrap=True)
        fig.suptitle(f"{self.data.name}: {len(self.classes)} classes, "
                     f"{sum(s.images for s in self.splits)} images")
        fig.tight_layout()
        # written whole or not at all
        return atomic_save(path, lambda tmp: fig.savefig(tmp, dpi=80, format="png",
                                                         bbox_inches="tight", pad_inches=0.1))


def dhash(img: np.ndarray, size: int = 8) -> int:
    """A 64-bit difference hash: grayscale, resized to (size+1) x size, left < right per pixel.

    Robust to resizing, re-encoding and small colour changes; a mirror image hashes differently.

    Example:
        >>> ramp = np.tile(np.arange(64, dtype=np.uint8)[None, :, None] * 4, (32, 1, 3))
        >>> hex(dhash(ramp)), hex(dhash(ramp[:, ::-1]))
        ('0xffffffffffffffff', '0x0')
    """
    from PIL import Image  # noqa: PLC0415

    gray = Image.fromarray(np.asarray(img, dtype=np.uint8)).convert("L")
    small = np.asarray(gray.resize((size + 1, size), Image.BILINEAR), dtype=np.int16)
    bits = (small[:, 1:] > small[:, :-1]).ravel()
    return int("".join("1" if b else "0" for b in bits), 2)


def best_anchor_iou(box_w: np.ndarray, box_h: np.ndarray, anchors: np.ndarray) -> np.ndarray:
    """Each box's highest IoU with any anchor shape ``[A, 2]`` (w, h), both centred.

    Example:
        >>> best_anchor_iou(np.array([24., 12.]), np.array([24., 12.]), np.array([[24., 24.]]))
        array([1.  , 0.25])
    """
    bw, bh = np.asarray(box_w, float)[:, None], np.asarray(box_h, float)[:, None]
    aw, ah = anchors[None, :, 0], anchors[None, :, 1]
    inter = np.minimum(bw, aw) * np.minimum(bh, ah)
    iou = inter / (bw * bh + aw * ah - inter)
    return iou.max(axis=1) if iou.size else np.zeros(len(bw))


def _anchor_shapes(model_name: str, img_size: int) -> tuple[np.ndarray, float]:
    from efficientdet_adapter.model.anchor_sizes import anchor_sizes  # noqa: PLC0415

    sizes = anchor_sizes(model_name, img_size)
    shapes = [(side * rw, side * rh) for lv in sizes.levels for side in lv.sides
              for rw, rh in lv.aspect_ratios]
    return np.array(shapes, float), sizes.smallest


def _split_folder(data: Path, records) -> Path | None:
    folders = Counter(r.filepath.parent for r in records if r.filepath is not None)
    return folders.most_common(1)[0][0] if folders else None


def _duplicates(hashes: dict[str, list[tuple[str, int]]], max_bits: int) -> list[DuplicatePair]:
    out = []
    for a, b in itertools.combinations(hashes, 2):
        if not hashes[a] or not hashes[b]:
            continue
        ha = np.array([h for _, h in hashes[a]], dtype=np.uint64)
        hb = np.array([h for _, h in hashes[b]], dtype=np.uint64)
        x = ha[:, None] ^ hb[None, :]
        bits = np.unpackbits(x.view(np.uint8).reshape(*x.shape, 8), axis=-1).sum(-1)
        for i, j in zip(*np.nonzero(bits <= max_bits)):
            out.append(DuplicatePair(a, hashes[a][i][0], b, hashes[b][j][0], int(bits[i, j])))
    return sorted(out, key=lambda p: (p.bits, p.file_a))


def check_dataset(
    data: str | Path,
    img_size: int | str = 384,
    model_name: str = "tf_efficientdet_lite0",
    format: str = "auto",
    duplicate_bits: int = DUPLICATE_BITS,
) -> DatasetReport:
    """Check a Roboflow-style export (folder or zip) before training.

    Args:
        data: the export.
        img_size: the ``--img-size`` the model will train at (boxes are measured at it);
            ``"auto"``: the size ``train --img-size auto`` picks from the train split.
        model_name: the effdet model whose anchors the boxes are compared with.
        format: annotation format, ``auto`` to detect.
        duplicate_bits: hashes differing in at most this many of 64 bits count as duplicates.

    Raises:
        UsageError: no such export.

    Example:
        >>> report = check_dataset("export.zip", img_size=512)   # doctest: +SKIP
        >>> report.splits[0].hard_to_match, len(report.duplicates)  # doctest: +SKIP
        (12, 0)
    """
    from efficientdet_adapter.records.images import open_img  # noqa: PLC0415
    from efficientdet_adapter.parsers.yolo_data import dataset_parser  # noqa: PLC0415

    path = Path(data)
    if not path.exists():
        raise UsageError(f"--data {path}: no such folder or zip file")
    parser = dataset_parser(path, format)
    splits = parser.parse_splits()
    classes = list(parser.class_map.foreground)
    if img_size == "auto":  # what train --img-size auto picks (needs a train split)
        from efficientdet_adapter.model.anchor_fit import choose_img_size  # noqa: PLC0415

        if not splits.get("train"):
            raise UsageError(f"--img-size auto: {path} has no train split to choose it from; "
                             "give a size")
        img_size, _ = choose_img_size(splits["train"], model_name)
    anchors, smallest = _anchor_shapes(model_name, img_size)
    summaries, sides, hashes = [], {}, {}
    for split, records in splits.items():
        per_class: Counter[str] = Counter()
        split_sides, hard, split_hashes = [], 0, []
        for r in records:
            per_class.update(r.labels)
            scale = img_size / max(r.width, r.height, 1)
            if r.bboxes:
                w = np.array([b.xmax - b.xmin for b in r.bboxes], float) * scale
                h = np.array([b.ymax - b.ymin for b in r.bboxes], float) * scale
                split_sides.append(np.sqrt(w * h))
                hard += int((best_anchor_iou(w, h, anchors) < 0.5).sum())
            if r.filepath is not None:
                name = r.filepath.name
                split_hashes.append((name, dhash(open_img(r.filepath))))
        folder = _split_folder(path, records)
        named = {r.filepath.name for r in records if r.filepath is not None}
        on_disk = (list_image_files(folder)  # the one lister's rules: no dot-files
                   if folder is not None and folder.is_dir() else [])
        summaries.append(SplitSummary(
            split=split, images=len(records), boxes=sum(len(r.bboxes) for r in records),
            without_boxes=sum(not r.bboxes for r in records),
            boxes_per_class={c: per_class.get(c, 0) for c in classes}, hard_to_match=hard,
            unannotated_files=sum(p.name not in named for p in on_disk)))
        sides[split] = np.concatenate(split_sides) if split_sides else np.zeros(0)
        hashes[split] = split_hashes
    report = getattr(parser, "report", None)
    return DatasetReport(
        data=path, model_name=model_name, img_size=img_size, smallest_anchor=smallest,
        classes=classes, splits=summaries, box_sides=sides,
        parse_fixes=dict(report.counts) if report is not None else {},
        duplicates=_duplicates(hashes, duplicate_bits),
        anchor_match=(anchor_match(input_boxes(splits["train"], img_size), model_name, img_size)
                      if splits.get("train") else None),
    )
