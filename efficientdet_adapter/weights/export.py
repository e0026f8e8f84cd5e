"""Export a trained EfficientDet to ONNX or a ``torch.export`` program (any model), or to
TorchScript (deprecated by torch; where effdet allows it).

The ONNX graph holds the network, the sigmoid, effdet's top-k candidate selection and the anchor
decoding. Its outputs, for a float32 input ``images`` ``[B, 3, H, W]`` (normalized like the
training images):

- ``boxes`` ``[B, K, 4]`` float32: candidate boxes, xyxy pixels of the model input, clipped to it;
- ``scores`` ``[B, K]`` float32: their scores (after the sigmoid);
- ``classes`` ``[B, K]`` int64: their class-map label ids (1-based, background is 0).

``K`` is effdet's ``max_detection_points`` (5000), or every anchor-class pair when there are fewer.
Non-maximum suppression is NOT in the graph (ONNX's ``NonMaxSuppression`` is per image and class,
and the padding effdet does afterwards has no tidy ONNX form);
[`onnx_postprocess`][efficientdet_adapter.weights.export.onnx_postprocess] does it in
NumPy exactly as effdet does (class-aware NMS at IoU 0.5, then the ``max_det`` best), returning
effdet's ``[B, max_det, 6]`` detections ``(x1, y1, x2, y2, score, class)`` with zero rows as
padding. The same conversion as PyTorch's then turns them into predictions.

[`export_program`][efficientdet_adapter.weights.export.export_program] writes the same graph (same
inputs, same three outputs) as a
``torch.export`` program (``.pt2``), which ``torch.export.load(path).module()`` runs in PyTorch
without this library; [`onnx_postprocess`][efficientdet_adapter.weights.export.onnx_postprocess]
applies to its outputs too.

Example:
    >>> export_onnx(model, "model.onnx", img_size=384)
    >>> import onnxruntime as ort
    >>> sess = ort.InferenceSession("model.onnx")
    >>> boxes, scores, classes = sess.run(None, {"images": batch})
    >>> detections = onnx_postprocess(boxes, scores, classes)
"""

from __future__ import annotations

import contextlib
import copy
import logging
import warnings
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import torch
from torch import nn

from ..atomic import atomic_save
from ..version_compat import import_effdet_quietly

import_effdet_quietly()  # effdet's import-time notices are not the user's
from effdet.efficientdet import HeadNet  # noqa: E402

from ..efficientdet._targets import label_ids_from_class_index, xyxy_limits
from ..efficientdet.wrappers import find_network
from ..records import normalize_img_size

__all__ = ["export_onnx", "export_program", "export_torchscript", "onnx_postprocess",
           "OnnxDetectionHead"]

logger = logging.getLogger(__name__)


def _hw(model: nn.Module, img_size: int | Sequence[int] | None) -> tuple[int, int]:
    if img_size is None:
        config = getattr(model, "config", None)
        size = getattr(config, "img_size", None) or find_network(model).config.image_size
    else:
        size = img_size
    hw = normalize_img_size(size, where="export img_size", max_side=None)
    return hw.height, hw.width


class OnnxDetectionHead(nn.Module):
    """The network plus effdet's candidate selection and box decoding, with no NMS.

    ``forward(images) -> (boxes, scores, classes)`` as described in the module docstring.
    """

    def __init__(self, model: nn.Module, img_size: tuple[int, int]):
        super().__init__()
        from effdet.anchors import Anchors

        self.net = find_network(model)
        config = self.net.config
        anchors = Anchors(  # [A, 4] yxyx, for this input size
            config.min_level,
            config.max_level,
            config.num_scales,
            config.aspect_ratios,
            config.anchor_scale,
            tuple(img_size),
        ).boxes
        self.register_buffer("anchors", anchors.float(), persistent=False)
        self.num_levels = int(config.num_levels)
        self.num_classes = int(config.num_classes)  # foreground classes
        num_pairs = anchors.shape[0] * self.num_classes
        self.k = min(int(config.max_detection_points), num_pairs)
        self.register_buffer(
            "size_xyxy",
            torch.tensor(xyxy_limits(*img_size), dtype=torch.float32),
            persistent=False,
        )

    def forward(self, images: torch.Tensor):
        from effdet.anchors import decode_box_outputs

        class_out, box_out = self.net(images)
        batch = images.shape[0]
        cls_all = torch.cat(
            [c.permute(0, 2, 3, 1).reshape(batch, -1, self.num_classes) for c in class_out], 1
        )
        box_all = torch.cat([b.permute(0, 2, 3, 1).reshape(batch, -1, 4) for b in box_out], 1)
        top_logits, top_flat = torch.topk(cls_all.reshape(batch, -1), k=self.k, dim=1)
        anchor_idx = torch.div(top_flat, self.num_classes, rounding_mode="floor")
        classes = label_ids_from_class_index(top_flat - anchor_idx * self.num_classes)
        codes = torch.gather(box_all, 1, anchor_idx.unsqueeze(2).expand(-1, -1, 4))
        anchors = self.anchors[anchor_idx.reshape(-1)]
        boxes = decode_box_outputs(codes.reshape(-1, 4).float(), anchors, output_xyxy=True)
        boxes = torch.minimum(boxes.clamp(min=0), self.size_xyxy).reshape(batch, self.k, 4)
        return boxes, top_logits.sigmoid(), classes


def export_onnx(
    model: nn.Module,
    path: str | Path,
    img_size: int | Sequence[int] | None = None,
    *,
    opset: int = 17,
    dynamic_batch: bool = True,
) -> Path:
    """Write the model as an ONNX graph (outputs ``boxes, scores, classes``; NMS outside).

    Args:
        model: an ``EfficientDetModel`` (or an effdet bench / network).
        path: the ``.onnx`` file to write.
        img_size: the input size, int or ``(H, W)``; the model's own ``img_size`` by default.
        opset: the ONNX opset.
        dynamic_batch: let the batch size vary (otherwise it is fixed at 1).

    Returns:
        The path written. Post-process the outputs with
        [`onnx_postprocess`][efficientdet_adapter.weights.export.onnx_postprocess].

    Example:
        >>> export_onnx(model, "model.onnx", img_size=384)
    """
    try:
        import onnx  # noqa: F401  (the exporter needs it)
    except ImportError:
        raise ImportError(
            "export_onnx needs onnx: pip install 'efficientdet_adapter[export]' (or pip install onnx)"
        ) from None
    dynamic_axes = (
        {n: {0: "batch"} for n in ("images", "boxes", "scores", "classes")} if dynamic_batch else None
    )
    path = Path(path)
    with _exporting(model, img_size, path) as (head, dummy):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # tracer and deprecation chatter
            # a temporary file renamed when complete: never a partial .onnx under ``path``
            atomic_save(path, lambda tmp: torch.onnx.export(
                head,
                (dummy,),
                str(tmp),
                input_names=["images"],
                output_names=["boxes", "scores", "classes"],
                opset_version=opset,
                dynamic_axes=dynamic_axes,
                dynamo=False,  # the TorchScript exporter: the dynamo one needs onnxscript
            ))
    return path


def export_program(
    model: nn.Module,
    path: str | Path,
    img_size: int | Sequence[int] | None = None,
    *,
    dynamic_batch: bool = True,
) -> Path:
    """Write the model as a ``torch.export`` program (a ``.pt2`` file): torch's successor to
    TorchScript, for every model (lite ones included).

    The program is [`OnnxDetectionHead`][efficientdet_adapter.weights.export.OnnxDetectionHead]:
    ``images [B, 3, H, W] -> (boxes, scores,
    classes)``, NMS outside, as in the ONNX graph (post-process with
    [`onnx_postprocess`][efficientdet_adapter.weights.export.onnx_postprocess]).

    Args:
        model: an ``EfficientDetModel`` (or an effdet bench / network).
        path: the file to write (``.pt2`` by convention).
        img_size: the input size, int or ``(H, W)``; the model's own ``img_size`` by default.
        dynamic_batch: let the batch size vary from 1 to 1024 (otherwise it is fixed at 1).

    Example:
        >>> export_program(model, "model.pt2")                               # doctest: +SKIP
        >>> boxes, scores, classes = torch.export.load("model.pt2").module()(images)
    """
    shapes = {"images": {0: torch.export.Dim("batch", min=1, max=1024)}} if dynamic_batch else None
    path = Path(path)
    with _exporting(model, img_size, path, batch=2 if dynamic_batch else 1) as (head, example):
        program = torch.export.export(head, (example,), dynamic_shapes=shapes)
        # a temporary file renamed when complete: never a partial .pt2 under ``path``
        atomic_save(path, lambda tmp: torch.export.save(program, str(tmp)))
    return path


@contextlib.contextmanager
def _exporting(model: nn.Module, img_size: int | Sequence[int] | None, path: Path,
               batch: int = 1) -> Iterator[tuple[OnnxDetectionHead, torch.Tensor]]:
    """The exported head of ``model`` in eval mode and an example input of ``batch`` images,
    under ``torch.no_grad``; the model's mode is restored and the export logged afterwards."""
    h, w = _hw(model, img_size)
    head = OnnxDetectionHead(model, (h, w)).eval()
    was_training = model.training
    model.eval()
    path.parent.mkdir(parents=True, exist_ok=True)
    example = torch.zeros(batch, 3, h, w, device=next(head.net.parameters()).device)
    try:
        with torch.no_grad():
            yield head, example
    finally:
        model.train(was_training)
    logger.info("exported %s at %dx%d to %s", find_network(model).config.name, h, w, path)


def _nms(boxes: np.ndarray, scores: np.ndarray, iou_threshold: float) -> np.ndarray:
    """Indices kept by greedy NMS, in descending score order (torchvision's semantics)."""
    order = np.argsort(-scores, kind="stable")
    x1, y1, x2, y2 = boxes[:, 0], boxes[:, 1], boxes[:, 2], boxes[:, 3]
    areas = (x2 - x1) * (y2 - y1)
    keep = []
    with np.errstate(invalid="ignore", divide="ignore"):  # 0/0 IoU of empty boxes: kept
        while order.size:
            i = order[0]
            keep.append(i)
            rest = order[1:]
            iw = np.clip(np.minimum(x2[i], x2[rest]) - np.maximum(x1[i], x1[rest]), 0, None)
            ih = np.clip(np.minimum(y2[i], y2[rest]) - np.maximum(y1[i], y1[rest]), 0, None)
            inter = iw * ih
            iou = inter / (areas[i] + areas[rest] - inter)
            order = rest[~(iou > iou_threshold)]
    return np.asarray(keep, dtype=np.int64)


def onnx_postprocess(
    boxes: np.ndarray,
    scores: np.ndarray,
    classes: np.ndarray,
    *,
    iou_threshold: float = 0.5,
    max_det: int = 100,
) -> np.ndarray:
    """effdet's ``[B, max_det, 6]`` detections from the ONNX graph's outputs (class-aware NMS).

    Rows are ``(x1, y1, x2, y2, score, class)`` in model-input pixels, best first; missing
    detections are zero rows, as effdet pads them.
    """
    boxes, scores, classes = np.asarray(boxes), np.asarray(scores), np.asarray(classes)
    out = np.zeros((boxes.shape[0], max_det, 6), dtype=np.float32)
    for i in range(boxes.shape[0]):
        b = boxes[i].astype(np.float64)
        offsets = classes[i].astype(np.float64)[:, None] * (b.max() + 1.0)
        keep = _nms(b + offsets, scores[i].astype(np.float64), iou_threshold)[:max_det]
        n = len(keep)
        out[i, :n, :4] = boxes[i][keep]
        out[i, :n, 4] = scores[i][keep]
        out[i, :n, 5] = classes[i][keep]
    return out


class _LevelFirstHeadNet(HeadNet):
    """effdet's head with only its TorchScript-friendly (batch norms level first) path."""

    def forward(self, x: list[torch.Tensor]) -> list[torch.Tensor]:
        return self._forward_level_first(x)


def export_torchscript(model: nn.Module, path: str | Path) -> Path:
    """Script the network (no bench) with ``torch.jit.script`` and save it.

    Deprecated by torch (``torch.jit.script`` warns since torch 2.10): prefer
    [`export_program`][efficientdet_adapter.weights.export.export_program] (``torch.export``) or
    [`export_onnx`][efficientdet_adapter.weights.export.export_onnx]. Kept while torch ships it.

    The saved module maps ``images`` to effdet's raw ``(class_outputs, box_outputs)`` per level.
    effdet's lite models (``tf_efficientdet_lite*``) do not script: their BiFPN uses
    ``bifpn_sum``, which TorchScript cannot compile; export those with
    [`export_onnx`][efficientdet_adapter.weights.export.export_onnx].

    Example:
        >>> export_torchscript(model, "model.ts")  # efficientdet_d0 and other non-lite models
    """
    net = find_network(model)
    name = str(net.config.name)
    fpn_name = str(net.config.get("fpn_name", None) or "")
    if "lite" in name or fpn_name == "bifpn_sum":
        from ..errors import ExportError

        raise ExportError(
            f"{name} cannot be exported to TorchScript: effdet's lite models fuse their BiFPN "
            "inputs with 'bifpn_sum', which torch.jit.script cannot compile. Use "
            "export_onnx(model, path) (or `efficientdet-adapter export --format onnx`) instead"
        )
    # TorchScript needs the head's batch norms indexed level first; toggle a copy, not the model.
    net = copy.deepcopy(net).eval()
    for head in (net.class_net, net.box_net):
        if not head.bn_level_first:
            head.toggle_bn_level_first()
        head.__class__ = _LevelFirstHeadNet  # drops the other path, which cannot be saved
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch.jit's deprecation notice
        scripted = torch.jit.script(net)
    atomic_save(path, lambda tmp: scripted.save(str(tmp)))
    return path
