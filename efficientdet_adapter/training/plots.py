"""The pictures of a run: curves from ``metrics.csv``, per-class precision-recall at IoU 0.5, a
confusion matrix, and a grid of augmented training samples (written before training starts).

The confusion matrix follows IceVision's ``SimpleConfusionMatrix``: in each image, predictions
(at their detection threshold) and ground-truth boxes are matched greedily by IoU >= 0.5, highest
IoU first; a matched pair counts at (true class, predicted class), an unmatched ground truth at
(true class, background), an unmatched prediction at (background, predicted class).

Example:
    >>> m = confusion_matrix(preds, class_map)      # [C+1, C+1]: row = truth, column = predicted
    >>> m[0]                                        # background row: false detections per class
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import numpy as np

from efficientdet_adapter.base.atomic import atomic_save

__all__ = ["box_iou", "confusion_matrix", "pr_curves", "plot_curves", "plot_pr_curves",
           "plot_confusion_matrix", "draw_confusion_matrix",
           "plot_augmented_samples", "plot_run"]


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``[N, M]`` IoU of xyxy boxes ``a`` [N, 4] and ``b`` [M, 4]."""
    a, b = np.asarray(a, float).reshape(-1, 4), np.asarray(b, float).reshape(-1, 4)
    lt = np.maximum(a[:, None, :2], b[None, :, :2])
    rb = np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = np.clip(rb - lt, 0, None).prod(-1)
    area = lambda x: np.clip(x[:, 2] - x[:, 0], 0, None) * np.clip(x[:, 3] - x[:, 1], 0, None)
    union = area(a)[:, None] + area(b)[None, :] - inter
    return np.where(union > 0, inter / np.maximum(union, 1e-12), 0.0)


def _truth(pred) -> tuple[np.ndarray, np.ndarray]:
    gt = pred.ground_truth
    if gt is None or not gt.bboxes:
        return np.zeros((0, 4)), np.zeros(0, int)
    return np.array([b.xyxy for b in gt.bboxes], float), np.array(gt.label_ids, int)


def _greedy(iou: np.ndarray, threshold: float) -> list[tuple[int, int]]:
    pairs = []
    if iou.size:
        order = np.dstack(np.unravel_index(np.argsort(-iou, axis=None), iou.shape))[0]
        used_p, used_g = set(), set()
        for p, g in order:
            if iou[p, g] < threshold:
                break
            if p not in used_p and g not in used_g:
                used_p.add(p), used_g.add(g), pairs.append((int(p), int(g)))
    return pairs


def confusion_matrix(preds: Sequence[Any], num_classes: int, iou_threshold: float = 0.5
                     ) -> np.ndarray:
    """``[num_classes, num_classes]`` counts (id 0 = background), rows = truth, columns =
    prediction, with IceVision's SimpleConfusionMatrix matching (see the module docstring)."""
    m = np.zeros((num_classes, num_classes), dtype=np.int64)
    for pred in preds:
        boxes = np.asarray(pred.boxes, float)[pred.keep].reshape(-1, 4)
        labels = np.asarray(pred.kept_label_ids, int)
        gt_boxes, gt_labels = _truth(pred)
        pairs = _greedy(box_iou(boxes, gt_boxes), iou_threshold)
        for p, g in pairs:
            m[gt_labels[g], labels[p]] += 1
        for g in set(range(len(gt_labels))) - {g for _, g in pairs}:
            m[gt_labels[g], 0] += 1
        for p in set(range(len(labels))) - {p for p, _ in pairs}:
            m[0, labels[p]] += 1
    return m


def pr_curves(preds: Sequence[Any], num_classes: int, iou_threshold: float = 0.5
              ) -> dict[int, tuple[np.ndarray, np.ndarray]]:
    """``{class id: (recall, precision)}`` over every detection (all scores), at ``iou``."""
    per_class: dict[int, list[tuple[float, bool]]] = {c: [] for c in range(1, num_classes)}
    n_gt = np.zeros(num_classes, int)
    for pred in preds:
        gt_boxes, gt_labels = _truth(pred)
        for c in range(1, num_classes):
            n_gt[c] += int((gt_labels == c).sum())
            keep = np.asarray(pred.label_ids) == c
            boxes, scores = np.asarray(pred.boxes)[keep].reshape(-1, 4), np.asarray(pred.scores)[keep]
            g = gt_boxes[gt_labels == c]
            iou = box_iou(boxes, g)
            taken = set()
            for i in np.argsort(-scores):
                j = int(np.argmax(iou[i])) if g.shape[0] else -1
                hit = j >= 0 and iou[i, j] >= iou_threshold and j not in taken
                if hit:
                    taken.add(j)
                per_class[c].append((float(scores[i]), hit))
    curves = {}
    for c, items in per_class.items():
        items.sort(key=lambda t: -t[0])
        tp = np.cumsum([h for _, h in items]) if items else np.zeros(0)
        k = np.arange(1, len(items) + 1)
        curves[c] = (tp / max(n_gt[c], 1), tp / np.maximum(k, 1))
    return curves


def _save(fig, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    atomic_save(path, lambda tmp: fig.savefig(tmp, format="png"))
    return path


def plot_curves(rows: Sequence[dict[str, Any]], path: Path) -> Path:
    """Losses (train, valid) and AP/AP50 per epoch from ``metrics.csv`` rows, as a PNG."""
    from matplotlib.figure import Figure  # noqa: PLC0415

    fig = Figure(figsize=(10, 4), dpi=100)
    ax1, ax2 = fig.add_subplot(1, 2, 1), fig.add_subplot(1, 2, 2)
    epochs = [r["epoch"] for r in rows]
    for key in ("train_loss", "valid_loss", "train_class_loss", "valid_class_loss",
                "train_box_loss", "valid_box_loss"):
        ys = [r.get(key) for r in rows]
        if any(y is not None for y in ys):
            ax1.plot(epochs, [np.nan if y is None else y for y in ys], "o-", label=key)
    for key, name in (("AP (IoU=0.50:0.95) area=all", "AP"), ("AP (IoU=0.50) area=all", "AP50")):
        ys = [r.get(key) for r in rows]
        ax2.plot(epochs, [np.nan if y is None else y for y in ys], "o-", label=name)
    ax1.set(xlabel="epoch", ylabel="loss", title="losses")
    ax2.set(xlabel="epoch", ylabel="COCO AP", title="validation AP")
    for ax in (ax1, ax2):
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    return _save(fig, path)


def plot_pr_curves(preds, class_map, path: Path) -> Path:
    """Per-class precision-recall curves at IoU 0.5, as a PNG."""
    from matplotlib.figure import Figure  # noqa: PLC0415

    fig = Figure(figsize=(5, 4.5), dpi=100)
    ax = fig.add_subplot()
    for c, (recall, precision) in pr_curves(preds, len(class_map)).items():
        ax.plot(recall, precision, label=class_map.get_by_id(c))
    ax.set(xlabel="recall", ylabel="precision", xlim=(0, 1), ylim=(0, 1.02),
           title="precision-recall at IoU 0.5")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return _save(fig, path)


def draw_confusion_matrix(m: np.ndarray, names: Sequence[str]):
    """A matplotlib ``Figure`` of the counts ``m`` (rows = truth, columns = prediction) with
    class ``names`` (background first), wide enough for its title whatever the class count."""
    from matplotlib.figure import Figure  # noqa: PLC0415

    n = len(names)
    fig = Figure(figsize=(max(4.0, 1.6 + 0.7 * n), max(3.4, 1.4 + 0.6 * n)), dpi=100)
    ax = fig.add_subplot()
    ax.imshow(m, cmap="Blues")
    for (i, j), v in np.ndenumerate(m):
        ax.text(j, i, str(v), ha="center", va="center", fontsize=8,
                color="white" if v > m.max() / 2 else "black")
    ax.set_xticks(range(n), names, rotation=45, ha="right")
    ax.set_yticks(range(n), names)
    ax.set(xlabel="predicted", ylabel="true")
    ax.set_title("confusion matrix (IoU >= 0.5)", fontsize=10)
    return fig


def plot_confusion_matrix(preds, class_map, path: Path) -> Path:
    """The [`confusion_matrix`][efficientdet_adapter.training.plots.confusion_matrix] with counts in
    the cells, as a PNG."""
    m = confusion_matrix(preds, len(class_map))
    return _save(draw_confusion_matrix(m, ["background", *class_map.foreground]), path)


def plot_augmented_samples(records, opts, path: Path, n: int = 8) -> Path | None:
    """A grid of ``n`` training samples as the training transform makes them (unnormalized)."""
    from efficientdet_adapter import tfms  # noqa: PLC0415
    from efficientdet_adapter.pictures.draw import show_samples  # noqa: PLC0415

    if not records:
        return None
    tfm = tfms.A.Adapter(tfms.A.aug_preset(opts.img_size, opts.aug))
    tfm.seed(opts.seed)
    samples = [tfm(records[i % len(records)]) for i in range(n)]
    path.parent.mkdir(parents=True, exist_ok=True)
    fig = show_samples(samples, ncols=4, denormalize=False, cell_size=2.5)
    atomic_save(path, lambda tmp: fig.savefig(tmp, format="png"))
    return path


def plot_run(out: Path, preds, class_map) -> list[Path]:
    """``curves.png``, ``pr_curves.png`` and ``confusion_matrix.png`` of a finished run."""
    from efficientdet_adapter.training.csvlog import read_metrics_csv  # noqa: PLC0415

    out = Path(out)
    written = []
    rows = read_metrics_csv(out / "metrics.csv")
    if rows:
        written.append(plot_curves(rows, out / "curves.png"))
    written.append(plot_pr_curves(preds, class_map, out / "pr_curves.png"))
    written.append(plot_confusion_matrix(preds, class_map, out / "confusion_matrix.png"))
    return written
