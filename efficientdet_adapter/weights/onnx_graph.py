"""The self-contained ONNX graph: pixels in, final detections out, its contract in its metadata.

Contract (``format_version`` 1; `ONNX_INPUT`, `ONNX_OUTPUTS`):

- **In**: ``images`` uint8 ``[B, H, W, 3]``, RGB, at the model's size: each picture resized
  (longest side to fit, aspect ratio kept) and padded, centred, with ``pad_color`` to exactly
  ``img_size`` (``tfms.A.resize_and_pad``). The graph normalizes (``(x / 255 - mean) / std``).
  uint8 because a float input invites the wrong scale (0-1 or 0-255, normalized or not) silently.
- **Out** (``D`` = ``max_detections``, 100 by default; rows best first):

  - ``boxes`` float32 ``[B, D, 4]``: ``x1, y1, x2, y2`` in pixels of the model input;
  - ``scores`` float32 ``[B, D]``;
  - ``classes`` int64 ``[B, D]``: 0-based index into the ``names`` metadata; ``-1`` on padding;
  - ``num_detections`` int64 ``[B]``: how many rows of each image are detections. Padding rows
    have ``classes == -1`` and zero boxes and scores.

Inside: the network, the sigmoid, effdet's top-k candidates (``max_detection_points``), the
anchor decoding and clipping to the input, then class-aware NMS at ``iou_threshold`` (ONNX
``NonMaxSuppression``, on boxes shifted apart by class as ``torchvision.ops.batched_nms`` does),
keeping the ``D`` best: effdet's own post-processing, step for step.

Metadata (``metadata_props``, string values, JSON where not plain text): see
`METADATA_KEYS`. [`read_metadata`][efficientdet_adapter.weights.onnx_graph.read_metadata] reads them
back.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence

import torch
from torch import Tensor, nn

from efficientdet_adapter.base.errors import CheckpointError

__all__ = [
    "ONNX_FORMAT",
    "ONNX_FORMAT_VERSION",
    "ONNX_INPUT",
    "ONNX_OUTPUTS",
    "METADATA_KEYS",
    "OnnxEndToEnd",
    "onnx_metadata",
    "read_metadata",
]

ONNX_FORMAT = "efficientdet_adapter.onnx"
ONNX_FORMAT_VERSION = 1
ONNX_INPUT = "images"
ONNX_OUTPUTS = ("boxes", "scores", "classes", "num_detections")

#: key -> what it holds. Required keys are written by every export; ``category_ids`` only when
#: the checkpoint knows its dataset's original category ids.
METADATA_KEYS: dict[str, str] = {
    "format": f"'{ONNX_FORMAT}'",
    "format_version": "the contract's version, '1'",
    "model_name": "the effdet model name, e.g. 'tf_efficientdet_lite0'",
    "library_version": "the efficientdet_adapter version that wrote the file",
    "names": "JSON list of the class names; output class i is names[i]",
    "img_size": "JSON [height, width] of the input",
    "mean": "JSON RGB mean, in 0-1 units (the graph applies it)",
    "std": "JSON RGB std, in 0-1 units (the graph applies it)",
    "pad_color": "JSON RGB colour of the padding",
    "input": "a line describing the input",
    "max_detections": "D, rows per image",
    "iou_threshold": "the NMS IoU threshold",
    "category_ids": "optional: JSON {label id (names[i] is id i + 1): dataset category id}",
}
_REQUIRED = [k for k in METADATA_KEYS if k != "category_ids"]


class _NonMaxSuppression(torch.autograd.Function):
    """ONNX ``NonMaxSuppression`` over one class, for a batch: ``[N, 3]`` (image, 0, box) rows,
    best first within each image, at most ``max_out`` per image.

    Runs ``torchvision.ops.nms`` in PyTorch (also while tracing, for the exporter's shapes) and
    is written to the graph as the ONNX operator.
    """

    @staticmethod
    def forward(ctx, boxes: Tensor, scores: Tensor, max_out: int, iou: float) -> Tensor:
        from torchvision.ops import nms  # noqa: PLC0415

        rows = []
        for i in range(boxes.shape[0]):
            keep = nms(boxes[i], scores[i, 0], iou)[:max_out]
            rows.append(torch.stack([torch.full_like(keep, i), torch.zeros_like(keep), keep], 1))
        return torch.cat(rows) if rows else torch.zeros(0, 3, dtype=torch.int64)

    @staticmethod
    def symbolic(g, boxes, scores, max_out: int, iou: float):
        max_t = g.op("Constant", value_t=torch.tensor([max_out], dtype=torch.int64))
        iou_t = g.op("Constant", value_t=torch.tensor([iou], dtype=torch.float32))
        return g.op("NonMaxSuppression", boxes, scores, max_t, iou_t, center_point_box_i=0)


class OnnxEndToEnd(nn.Module):
    """uint8 images in, padded final detections out (the contract in the module docstring).

    Args:
        head: the candidate head
            ([`OnnxDetectionHead`][efficientdet_adapter.checkpoints.export.OnnxDetectionHead]: network,
            top-k, decoding).
        mean, std: the RGB normalization, 0-1 units.
        max_det: rows per image (``D``).
        iou_threshold: NMS IoU threshold (effdet: 0.5).
    """

    def __init__(self, head: nn.Module, mean: Sequence[float], std: Sequence[float], *,
                 max_det: int = 100, iou_threshold: float = 0.5) -> None:
        super().__init__()
        self.head = head
        self.max_det = int(max_det)
        self.iou_threshold = float(iou_threshold)
        # (x / 255 - mean) / std, as (x - 255 mean) / (255 std): one subtraction, one division
        def channels(values: Sequence[float]) -> Tensor:
            return torch.tensor(values, dtype=torch.float32).view(1, 3, 1, 1) * 255

        self.register_buffer("shift", channels(mean), persistent=False)
        self.register_buffer("scale", channels(std), persistent=False)

    def forward(self, images: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        x = (images.permute(0, 3, 1, 2).float() - self.shift) / self.scale
        boxes, scores, index = self.head.candidates(x)  # [B, K, 4], [B, K], [B, K] 0-based
        batch, k = scores.shape
        # class-aware NMS as one NMS: shift each class's boxes apart (torchvision's trick)
        offsets = index.to(boxes.dtype) * (boxes.amax(dim=(1, 2)) + 1).unsqueeze(1)
        selected = _NonMaxSuppression.apply(boxes + offsets.unsqueeze(2), scores.unsqueeze(1),
                                            self.max_det, self.iou_threshold)
        image, box = selected[:, 0], selected[:, 2]
        # each kept box's row in its image: how many kept boxes of that image come before it
        same = image.unsqueeze(0) == image.unsqueeze(1)
        order = torch.arange(image.shape[0], device=image.device)
        before = order.unsqueeze(0) < order.unsqueeze(1)  # [i, j]: j comes before i (no Trilu:
        row = (same & before).sum(1)                      # opset 11 has none)
        slot = image * self.max_det + row
        flat = image * k + box
        # scatter (ONNX ScatterElements), not index_copy: torch 2.4's exporter cannot export
        # index_copy at opset 11; the slots are distinct, so both give the same tensors
        out_boxes = boxes.new_zeros(batch * self.max_det, 4).scatter(
            0, slot.unsqueeze(1).expand(-1, 4), boxes.reshape(-1, 4).index_select(0, flat))
        out_scores = scores.new_zeros(batch * self.max_det).scatter(
            0, slot, scores.reshape(-1).index_select(0, flat))
        out_classes = torch.full((batch * self.max_det,), -1, dtype=torch.int64,
                                 device=images.device).scatter(
            0, slot, index.reshape(-1).index_select(0, flat))
        counts = (image.unsqueeze(0) == torch.arange(batch, device=images.device).unsqueeze(1))
        return (out_boxes.view(batch, self.max_det, 4), out_scores.view(batch, self.max_det),
                out_classes.view(batch, self.max_det), counts.sum(1))


def onnx_metadata(*, model_name: str, names: Sequence[str], img_size: Sequence[int],
                  mean: Sequence[float], std: Sequence[float], pad_color: Sequence[int],
                  max_det: int, iou_threshold: float, library_version: str,
                  category_ids: Mapping[int, int] | None = None) -> dict[str, str]:
    """The ``metadata_props`` of an exported graph (`METADATA_KEYS`), as strings."""
    h, w = (int(s) for s in img_size)
    meta = {
        "format": ONNX_FORMAT,
        "format_version": str(ONNX_FORMAT_VERSION),
        "model_name": str(model_name),
        "library_version": str(library_version),
        "names": json.dumps([str(n) for n in names]),
        "img_size": json.dumps([h, w]),
        "mean": json.dumps([float(v) for v in mean]),
        "std": json.dumps([float(v) for v in std]),
        "pad_color": json.dumps([int(c) for c in pad_color]),
        "input": f"{ONNX_INPUT}: uint8 [B, {h}, {w}, 3] RGB, longest side resized to fit and "
                 "padded (centred, pad_color); the graph normalizes",
        "max_detections": str(int(max_det)),
        "iou_threshold": repr(float(iou_threshold)),
    }
    if category_ids:
        meta["category_ids"] = json.dumps({str(int(k)): int(v) for k, v in category_ids.items()})
    return meta


def read_metadata(props: Mapping[str, str], where: str) -> dict:
    """The typed metadata of an exported graph from its ``metadata_props`` (a ``{key: text}``).

    Returns:
        The metadata, keyed ``model_name`` (str), ``library_version`` (str), ``names``
        (list[str]), ``img_size`` ((h, w)), ``mean``, ``std``, ``pad_color`` (tuples),
        ``max_detections`` (int), ``iou_threshold`` (float) and ``category_ids``
        (dict[int, int] or None).

    Raises:
        CheckpointError: not a graph this library exported (an older export without NMS, or
            another tool's), or its metadata cannot be read; the message says to re-export.
    """
    fix = ("export it again with `efficientdet-adapter export --format onnx` (or "
           "efficientdet.export_onnx) from its checkpoint")
    if props.get("format") != ONNX_FORMAT:
        raise CheckpointError(f"{where}: not a self-contained efficientdet_adapter ONNX graph "
                              f"(its metadata has no format {ONNX_FORMAT!r}); {fix}")
    version = props.get("format_version")
    if version != str(ONNX_FORMAT_VERSION):
        raise CheckpointError(f"{where}: ONNX format_version {version!r}; this version of "
                              f"efficientdet_adapter reads {ONNX_FORMAT_VERSION}; {fix}")
    missing = [k for k in _REQUIRED if k not in props]
    if missing:
        raise CheckpointError(f"{where}: its metadata lacks {', '.join(missing)}; {fix}")
    try:
        h, w = json.loads(props["img_size"])
        ids = json.loads(props["category_ids"]) if "category_ids" in props else None
        return {
            "model_name": props["model_name"],
            "library_version": props["library_version"],
            "names": [str(n) for n in json.loads(props["names"])],
            "img_size": (int(h), int(w)),
            "mean": tuple(float(v) for v in json.loads(props["mean"])),
            "std": tuple(float(v) for v in json.loads(props["std"])),
            "pad_color": tuple(int(c) for c in json.loads(props["pad_color"])),
            "max_detections": int(props["max_detections"]),
            "iou_threshold": float(props["iou_threshold"]),
            "category_ids": {int(k): int(v) for k, v in ids.items()} if ids else None,
        }
    except (KeyError, ValueError, TypeError) as e:
        raise CheckpointError(f"{where}: unreadable metadata ({type(e).__name__}: {e}); "
                              f"{fix}") from None
