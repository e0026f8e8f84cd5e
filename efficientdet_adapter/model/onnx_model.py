"""A self-contained ONNX export, run by ONNX Runtime wherever a model is taken for prediction.

[`load_onnx`][efficientdet_adapter.model.onnx_model.load_onnx] reads a graph written by
``export_onnx`` (the contract:
[`onnx_graph`][efficientdet_adapter.weights.onnx_graph]) and its metadata (class names, image size,
normalization) into an [`OnnxModel`][efficientdet_adapter.model.onnx_model.OnnxModel].
``predict``, ``predict_from_dl``, ``end2end_detect``,
``runs.evaluate`` and the command line's ``predict``/``eval`` take it in place of the PyTorch
model: the same resize and pad, the same mapping of the boxes back to the original pixels, the
same [`Prediction`][efficientdet_adapter.records.predictions.Prediction] out. Only the network, the
normalization and the post-processing run in ONNX Runtime.

How it fits the PyTorch path:
    [`OnnxModel.inference_tfm`][efficientdet_adapter.model.onnx_model.OnnxModel.inference_tfm] resizes and pads like the model's
own inference transform, then only turns the pixels into floats (0-255): the graph normalizes.
[`OnnxModel.forward`][efficientdet_adapter.model.onnx_model.OnnxModel.forward] takes that
float batch ``[B, 3, H, W]``, hands the graph its uint8
pixels (exact: they are whole numbers) and returns effdet's ``[B, D, 6]`` detections, as
``prediction.detect`` does for a PyTorch model.

Example:
    >>> onnx_model = load_onnx("model.onnx")                                 # doctest: +SKIP
    >>> ds = Dataset.from_images(["a.jpg"], inference_tfm(onnx_model))       # doctest: +SKIP
    >>> preds = predict(onnx_model, ds, detection_threshold=0.5)             # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from torch import Tensor, nn

from efficientdet_adapter.records.class_map import ClassMap, background_for
from efficientdet_adapter.base.errors import BatchError, CheckpointError, PathNotFoundError
from efficientdet_adapter.weights.onnx_graph import ONNX_INPUT, ONNX_OUTPUTS, read_metadata
from efficientdet_adapter.model.ops.targets import label_ids_from_class_index

__all__ = ["OnnxModel", "load_onnx"]


class OnnxModel(nn.Module):
    """An exported graph and what its metadata says (see the module docstring).

    Attributes:
        path: the ``.onnx`` file.
        class_map: the class map (background at id 0; ``names[i]`` has label id ``i + 1``).
        img_size: ``(height, width)`` of the input.
        mean, std: the RGB normalization the graph applies (0-1 units).
        pad_color: the RGB padding colour of the resize and pad.
        model_name, library_version: what was exported, and by which version of this library.
        category_ids: ``{label id: dataset category id}`` when the export kept them, else None.
        max_detections: rows per image.

    It is an ``nn.Module`` without parameters, so the prediction functions' ``eval()``,
    ``train()`` and device moves are no-ops; ONNX Runtime runs where its providers say.
    """

    def __init__(self, path: Path, session, meta: dict) -> None:
        super().__init__()
        self.path = Path(path)
        self._session = session
        names = meta["names"]
        self.class_map = ClassMap(names, background=background_for(names))
        self.img_size: tuple[int, int] = meta["img_size"]
        self.mean: tuple[float, ...] = meta["mean"]
        self.std: tuple[float, ...] = meta["std"]
        self.pad_color: tuple[int, ...] = meta["pad_color"]
        self.model_name: str = meta["model_name"]
        self.library_version: str = meta["library_version"]
        self.category_ids: dict[int, int] | None = meta["category_ids"]
        self.max_detections: int = meta["max_detections"]

    def extra_repr(self) -> str:
        return (f"path={str(self.path)!r}, model_name={self.model_name!r}, "
                f"img_size={self.img_size}, classes={len(self.class_map) - 1}")

    def inference_tfm(self):
        """The inference transform: ``resize_and_pad(img_size, pad_color)`` and floats 0-255.

        Example:
            >>> ds = Dataset.from_images(paths, onnx_model.inference_tfm())    # doctest: +SKIP
        """
        from efficientdet_adapter.tfms.albumentations_adapter import Adapter, Normalize, resize_and_pad  # noqa: PLC0415

        return Adapter([*resize_and_pad(self.img_size, self.pad_color),
                        Normalize(mean=(0.0, 0.0, 0.0), std=(1.0, 1.0, 1.0), max_pixel_value=1.0)])

    def run(self, images: np.ndarray) -> dict[str, np.ndarray]:
        """The graph's four outputs (``boxes, scores, classes, num_detections``) for uint8
        ``[B, H, W, 3]`` RGB images at the model's size."""
        outputs = self._session.run(list(ONNX_OUTPUTS), {ONNX_INPUT: images})
        return dict(zip(ONNX_OUTPUTS, outputs))

    def forward(self, images: Tensor) -> Tensor:
        """effdet's detections ``[B, D, 6]`` (``x1, y1, x2, y2, score, label id``; zero rows pad)
        for float ``[B, 3, H, W]`` pixels 0-255 (from
        [`inference_tfm`][efficientdet_adapter.model.onnx_model.OnnxModel.inference_tfm]).

        Raises:
            BatchError: images not at the model's size, or not whole pixel values 0-255
                (normalized already: build the dataset with
                [`inference_tfm`][efficientdet_adapter.model.onnx_model.OnnxModel.inference_tfm]).
        """
        h, w = self.img_size
        if images.ndim != 4 or tuple(images.shape[1:]) != (3, h, w):
            raise BatchError(
                f"images of shape {tuple(images.shape)} do not fit {self.path.name}, exported for "
                f"{h}x{w} (height x width): build the dataset with inference_tfm(onnx_model)")
        pixels = images.detach().float().cpu()
        if pixels.numel() and (pixels.min() < 0 or pixels.max() > 255
                               or not torch.equal(pixels, pixels.round())):
            raise BatchError(
                f"{self.path.name} takes pixel values 0-255 and normalizes them itself; these "
                "images are normalized already: build the dataset with inference_tfm(onnx_model)")
        uint8 = pixels.permute(0, 2, 3, 1).to(torch.uint8).contiguous().numpy()
        out = self.run(uint8)
        dets = np.zeros((uint8.shape[0], self.max_detections, 6), dtype=np.float32)
        dets[..., :4] = out["boxes"]
        dets[..., 4] = out["scores"]
        valid = out["classes"] >= 0
        dets[..., 5] = np.where(valid, label_ids_from_class_index(out["classes"]), 0)
        dets[~valid] = 0.0  # padding: effdet's zero rows
        return torch.from_numpy(dets)


def load_onnx(path: str | Path, *, providers: Sequence[str] | None = None,
              threads: int | None = None) -> OnnxModel:
    """Open a graph written by ``export_onnx`` with ONNX Runtime.

    Args:
        path: the ``.onnx`` file.
        providers: ONNX Runtime's execution providers, in order of preference (default: CUDA
            when this ONNX Runtime has it, then the CPU).
        threads: ONNX Runtime's intra-op threads (default: its own choice, all cores).

    Raises:
        PathNotFoundError: no such file.
        CheckpointError: not an ONNX file, or not one this library exported (the message says
            to export it again).

    Example:
        >>> onnx_model = load_onnx("runs/shapes/model.onnx")                 # doctest: +SKIP
        >>> onnx_model.class_map.foreground, onnx_model.img_size             # doctest: +SKIP
    """
    try:
        import onnxruntime as ort  # noqa: PLC0415
    except ImportError:
        raise ImportError("load_onnx needs onnxruntime: pip install "
                          "'efficientdet_adapter[export]' (or pip install onnxruntime)") from None
    path = Path(path)
    if not path.is_file():
        raise PathNotFoundError(f"{path}: no such ONNX file; give the .onnx that export wrote")
    if providers is None:
        available = ort.get_available_providers()
        providers = [p for p in ("CUDAExecutionProvider", "CPUExecutionProvider")
                     if p in available]
    try:
        options = ort.SessionOptions()
        if threads is not None:
            options.intra_op_num_threads = int(threads)
        session = ort.InferenceSession(str(path), options, providers=list(providers))
    except Exception as e:  # ORT raises its own Fail/InvalidProtobuf/... types
        raise CheckpointError(f"{path}: ONNX Runtime cannot open it ({type(e).__name__}: "
                              f"{str(e).splitlines()[0][:200]}); give a .onnx written by "
                              "`efficientdet-adapter export --format onnx`") from None
    meta = read_metadata(session.get_modelmeta().custom_metadata_map, str(path))
    return OnnxModel(path, session, meta)
