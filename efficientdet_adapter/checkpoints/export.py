"""Export a trained EfficientDet to ONNX, a ``torch.export`` program or TorchScript.

- [`export_onnx`][efficientdet_adapter.checkpoints.export.export_onnx]: a self-contained graph, uint8
  images in and final detections out, NMS
  inside, its contract and the class names, size and normalization in its metadata (the graph
  and its contract: [`onnx_graph`][efficientdet_adapter.weights.onnx_graph];
      ``efficientdet.load_onnx`` runs it with ONNX Runtime).
- [`export_program`][efficientdet_adapter.checkpoints.export.export_program]: a ``torch.export`` program
  (``.pt2``) of [`OnnxDetectionHead`][efficientdet_adapter.checkpoints.export.OnnxDetectionHead],
  the candidate head, which ``torch.export.load(path).module()`` runs in PyTorch without this
  library. For a float32 input ``images`` ``[B, 3, H, W]`` (normalized like the training
  images) its outputs are

  - ``boxes`` ``[B, K, 4]`` float32: candidate boxes, xyxy pixels of the model input, clipped;
  - ``scores`` ``[B, K]`` float32: their scores (after the sigmoid);
  - ``classes`` ``[B, K]`` int64: their class-map label ids (1-based, background is 0);

  ``K`` is effdet's ``max_detection_points`` (5000), or every anchor-class pair when fewer.
  [`onnx_postprocess`][efficientdet_adapter.checkpoints.export.onnx_postprocess] does effdet's NMS on
  them in NumPy (class-aware at IoU 0.5, then the
  ``max_det`` best), returning effdet's ``[B, max_det, 6]`` detections
  ``(x1, y1, x2, y2, score, class)`` with zero rows as padding.
- [`export_torchscript`][efficientdet_adapter.checkpoints.export.export_torchscript]: the bare network,
  scripted (deprecated by torch).

Example:
    >>> export_onnx(model, "model.onnx", class_map=class_map)
    >>> preds = efficientdet.predict(efficientdet.load_onnx("model.onnx"), ds)
"""

from __future__ import annotations

import contextlib
import copy
import io
import logging
import warnings
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

import numpy as np
import torch
from torch import nn

from efficientdet_adapter.base.atomic import atomic_save, atomic_write_bytes
from efficientdet_adapter.checkpoints.formats import EXPORT_SUFFIXES, check_export_suffix
from efficientdet_adapter.base.version_compat import import_effdet_quietly

import_effdet_quietly()  # effdet's import-time notices are not the user's
from effdet.efficientdet import FpnCombine, HeadNet  # noqa: E402

from efficientdet_adapter.model.ops.targets import label_ids_from_class_index, xyxy_limits
from efficientdet_adapter.records.class_map import ClassMap
from efficientdet_adapter.model.wrappers import find_bench, find_network
from efficientdet_adapter.base.errors import ExportError, NotAModelError
from efficientdet_adapter.records.record import normalize_img_size

__all__ = ["export_onnx", "export_program", "export_torchscript", "onnx_postprocess",
           "export_summary", "OnnxDetectionHead", "EXPORT_SUFFIXES"]

#: The largest batch a ``torch.export`` program with a dynamic batch accepts.
MAX_BATCH = 1024

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
        from effdet.anchors import Anchors  # noqa: PLC0415

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
        boxes, scores, index = self.candidates(images)
        return boxes, scores, label_ids_from_class_index(index)

    def candidates(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``(boxes, scores, class index)``: `forward` with effdet's 0-based class index."""
        from effdet.anchors import decode_box_outputs  # noqa: PLC0415

        class_out, box_out = self.net(images)
        batch = images.shape[0]
        cls_all = torch.cat(
            [c.permute(0, 2, 3, 1).reshape(batch, -1, self.num_classes) for c in class_out], 1
        )
        box_all = torch.cat([b.permute(0, 2, 3, 1).reshape(batch, -1, 4) for b in box_out], 1)
        top_logits, top_flat = torch.topk(cls_all.reshape(batch, -1), k=self.k, dim=1)
        anchor_idx = torch.div(top_flat, self.num_classes, rounding_mode="floor")
        index = top_flat - anchor_idx * self.num_classes
        codes = torch.gather(box_all, 1, anchor_idx.unsqueeze(2).expand(-1, -1, 4))
        anchors = self.anchors[anchor_idx.reshape(-1)]
        boxes = decode_box_outputs(codes.reshape(-1, 4).float(), anchors, output_xyxy=True)
        boxes = torch.minimum(boxes.clamp(min=0), self.size_xyxy).reshape(batch, self.k, 4)
        return boxes, top_logits.sigmoid(), index


def export_onnx(
    model: nn.Module,
    path: str | Path,
    img_size: int | Sequence[int] | None = None,
    *,
    class_map: ClassMap | None = None,
    category_ids: Mapping[int, int] | None = None,
    opset: int = 17,
    dynamic_batch: bool = True,
    max_det: int = 100,
    iou_threshold: float = 0.5,
) -> Path:
    """Write the model as a self-contained ONNX graph: uint8 images in, final detections out.

    The contract (input, the four outputs, NMS inside) and the metadata it carries (class names,
    image size, normalization, model name, library version) are in
    [`onnx_graph`][efficientdet_adapter.weights.onnx_graph]. ``efficientdet.load_onnx(path)`` runs
    it
    with ONNX Runtime wherever a model is taken for prediction.

    Args:
        model: an ``EfficientDetModel`` (or an effdet bench / network).
        path: the ``.onnx`` file to write.
        img_size: the input size, int or ``(H, W)``; the model's own ``img_size`` by default.
        class_map: the class map the model was trained with, for the ``names`` metadata
            (default: ``class_1``, ``class_2``...).
        category_ids: ``{label id: dataset category id}`` to keep in the metadata (the COCO
            export's original ids, written into ``predictions.json`` by ``predict``).
        opset: the ONNX opset (``NonMaxSuppression`` needs 10 or later).
        dynamic_batch: let the batch size vary (otherwise it is fixed at 1).
        max_det: detection rows per image.
        iou_threshold: the NMS IoU threshold.

    Returns:
        The path written (atomically).

    Raises:
        ExportError: ``class_map`` does not fit the model.

    Example:
        >>> export_onnx(model, "model.onnx", class_map=class_map)
    """
    try:
        import onnx  # noqa: PLC0415
    except ImportError:
        raise ImportError(
            "export_onnx needs onnx: pip install 'efficientdet_adapter[export]' (or pip install onnx)"
        ) from None
    from efficientdet_adapter.tfms.albumentations_adapter import DEFAULT_PAD_COLOR  # noqa: PLC0415
    from efficientdet_adapter.weights.onnx_graph import ONNX_INPUT, ONNX_OUTPUTS, OnnxEndToEnd, onnx_metadata  # noqa: PLC0415

    net_config = find_network(model).config
    num_fg = int(net_config.num_classes)
    if class_map is None:
        names = [f"class_{i}" for i in range(1, num_fg + 1)]
    elif len(class_map.foreground) != num_fg:
        raise ExportError(f"class_map has {len(class_map.foreground)} classes besides the "
                          f"background; the model predicts {num_fg}: pass its own class map")
    else:
        names = list(class_map.foreground)
    mean, std = _mean_std(model)
    dynamic_axes = (
        {n: {0: "batch"} for n in (ONNX_INPUT, *ONNX_OUTPUTS)} if dynamic_batch else None
    )
    path = check_export_suffix(path, "onnx")
    with _exporting(model, img_size, path) as (head, dummy):
        graph = OnnxEndToEnd(head, mean, std, max_det=max_det, iou_threshold=iou_threshold).eval()
        h, w = dummy.shape[-2:]
        images = torch.full((1, h, w, 3), 128, dtype=torch.uint8, device=dummy.device)
        meta = onnx_metadata(model_name=str(net_config.name), names=names, img_size=(h, w),
                             mean=mean, std=std, pad_color=DEFAULT_PAD_COLOR, max_det=max_det,
                             iou_threshold=iou_threshold, library_version=_library_version(),
                             category_ids=category_ids)

        def write(tmp: Path) -> None:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # tracer and deprecation chatter
                torch.onnx.export(
                    graph, (images,), str(tmp), input_names=[ONNX_INPUT],
                    output_names=list(ONNX_OUTPUTS), opset_version=opset,
                    dynamic_axes=dynamic_axes,
                    dynamo=False,  # the TorchScript exporter: the dynamo one needs onnxscript
                )
            proto = onnx.load(str(tmp))
            onnx.helper.set_model_props(proto, meta)
            onnx.save(proto, str(tmp))

        # a temporary file renamed when complete: never a partial .onnx under ``path``
        atomic_save(path, write)
    return path


def _mean_std(model: nn.Module) -> tuple[list[float], list[float]]:
    """The model's RGB normalization: its ``ModelConfig``'s, else effdet's config's (ImageNet's
    when that has none)."""
    from efficientdet_adapter.records.images import IMAGENET_MEAN, IMAGENET_STD  # noqa: PLC0415

    try:
        config = find_bench(model).config
        return [float(v) for v in config.mean], [float(v) for v in config.std]
    except NotAModelError:
        net_config = find_network(model).config
        mean = net_config.get("mean", None) or IMAGENET_MEAN
        std = net_config.get("std", None) or IMAGENET_STD
        return [float(v) for v in mean], [float(v) for v in std]


def _library_version() -> str:
    """This library's version (the package is imported whenever this module is)."""
    import sys  # noqa: PLC0415

    return str(getattr(sys.modules.get(__name__.split(".")[0]), "__version__", "unknown"))


def export_program(
    model: nn.Module,
    path: str | Path,
    img_size: int | Sequence[int] | None = None,
    *,
    dynamic_batch: bool = True,
) -> Path:
    """Write the model as a ``torch.export`` program (a ``.pt2`` file): torch's successor to
    TorchScript, for every model (lite ones included).

    The program is [`OnnxDetectionHead`][efficientdet_adapter.checkpoints.export.OnnxDetectionHead]:
    ``images [B, 3, H, W] -> (boxes, scores,
    classes)``, NMS outside, as in the ONNX graph (post-process with
    [`onnx_postprocess`][efficientdet_adapter.checkpoints.export.onnx_postprocess]).

    Args:
        model: an ``EfficientDetModel`` (or an effdet bench / network).
        path: the file to write (``.pt2`` by convention).
        img_size: the input size, int or ``(H, W)``; the model's own ``img_size`` by default.
        dynamic_batch: let the batch size vary from 1 to 1024 (otherwise it is fixed at 1).

    Raises:
        ExportError: ``path``'s suffix is another format's (``.onnx``, ``.ts``).
        SaveError: the file cannot be written (a full disk); an earlier file there is intact.

    Example:
        >>> export_program(model, "model.pt2")                               # doctest: +SKIP
        >>> boxes, scores, classes = torch.export.load("model.pt2").module()(images)
    """
    shapes = ({"images": {0: torch.export.Dim("batch", min=1, max=MAX_BATCH)}}
              if dynamic_batch else None)
    path = check_export_suffix(path, "torch-export")
    with _exporting(model, img_size, path, batch=2 if dynamic_batch else 1) as (head, example):
        program = torch.export.export(head, (example,), dynamic_shapes=shapes)
        # serialized in memory first: torch's zip writer turns a full disk into a RuntimeError
        # about stream positions; the atomic write makes it a SaveError (the earlier file whole)
        buffer = io.BytesIO()
        torch.export.save(program, buffer)
        atomic_write_bytes(path, buffer.getbuffer())
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


def export_summary(model: nn.Module, path: str | Path, fmt: str,
                   img_size: int | Sequence[int] | None = None) -> str:
    """One line that says what the exported file at ``path`` takes and gives, and how to run it.

    Example:
        >>> export_summary(model, "m.pt2", "torch-export")                  # doctest: +SKIP
        "wrote m.pt2, a torch.export program: boxes, scores, classes = ..."
    """
    if fmt == "onnx":  # the self-contained graph (export_onnx): not the program's contract
        return (f"wrote {path}: input 'images' uint8 [B, H, W, 3] RGB, resized and padded; "
                "outputs boxes, scores, classes, num_detections (NMS inside); class names, size "
                "and normalization in its metadata. Run it: efficientdet-adapter predict IMAGES "
                f"--checkpoint {path}")
    if fmt == "torchscript":
        return (f"wrote {path}, a TorchScript module: torch.jit.load(path)(images) gives effdet's "
                "raw (class_outputs, box_outputs) per level (TorchScript is deprecated by torch: "
                "prefer --format torch-export)")
    h, w = _hw(model, img_size)
    config = getattr(model, "config", None)
    net_config = find_network(model).config
    mean = getattr(config, "mean", None) or net_config.get("mean", None)
    std = getattr(config, "std", None) or net_config.get("std", None)
    def rounded(values) -> tuple[float, ...]:
        return tuple(round(float(v), 4) for v in values)

    norm = ("" if mean is None else f", RGB in 0..1 normalized with mean {rounded(mean)}, std "
            f"{rounded(std)}")
    return (f"wrote {path}, a torch.export program: boxes, scores, classes = "
            f"torch.export.load(path).module()(images); images float32 "
            f"[B, 3, {h}, {w}] (only this size; B from 1 to {MAX_BATCH}){norm}; outputs are "
            "candidates before NMS (boxes xyxy in input pixels): finish with "
            "efficientdet_adapter.efficientdet.onnx_postprocess(boxes, scores, classes)")


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
    """effdet's ``[B, max_det, 6]`` detections from the candidates that a torch.export program
    (``--format torch-export``) or an ONNX file of the earlier contract gives (class-aware NMS;
    today's ONNX graph has NMS inside).

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


class _SumFpnCombine(FpnCombine):
    """effdet's BiFPN node input fusion for ``weight_method='sum'`` (the lite models'
    ``bifpn_sum``) alone: effdet's ``forward`` also holds the weighted branches, which use
    ``edge_weights``; that is None here, and TorchScript compiles every branch, so it fails."""

    def forward(self, x: list[torch.Tensor]) -> torch.Tensor:
        nodes = []
        for offset, resample in zip(self.inputs_offsets, self.resample.values()):
            nodes.append(resample(x[offset]))
        return torch.sum(torch.stack(nodes, dim=-1), dim=-1)


def export_torchscript(model: nn.Module, path: str | Path) -> Path:
    """Script the network (no bench) with ``torch.jit.script`` and save it.

    Deprecated by torch (``torch.jit.script`` warns since torch 2.10): prefer
    [`export_program`][efficientdet_adapter.checkpoints.export.export_program] (``torch.export``) or
    [`export_onnx`][efficientdet_adapter.checkpoints.export.export_onnx]. Kept while torch ships it.

    The saved module maps ``images`` (normalized, ``[B, 3, H, W]``) to effdet's raw
    ``(class_outputs, box_outputs)`` per level: no anchors, decoding or NMS. Every model scripts,
    lite ones included (their ``bifpn_sum`` fusion is scripted through a sum-only copy of effdet's
    node, the same arithmetic).

    Example:
        >>> export_torchscript(model, "model.ts")
    """
    # TorchScript needs the head's batch norms indexed level first and the lite BiFPN's fusion
    # without its unused weighted branches: change a copy, not the model.
    net = copy.deepcopy(find_network(model)).eval()
    for head in (net.class_net, net.box_net):
        if not head.bn_level_first:
            head.toggle_bn_level_first()
        head.__class__ = _LevelFirstHeadNet  # drops the other path, which cannot be saved
    for module in net.modules():
        if type(module) is FpnCombine and module.weight_method == "sum":
            module.__class__ = _SumFpnCombine
    path = check_export_suffix(path, "torchscript")
    path.parent.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch.jit's deprecation notice
        scripted = torch.jit.script(net)
    atomic_save(path, lambda tmp: scripted.save(str(tmp)))
    return path
