"""Where and how the network runs for inference: the device, and the accelerated path.

[`inference_device`][efficientdet_adapter.model.runtime.inference_device] resolves
``device="auto"`` (the model's GPU, else any CUDA GPU, else
the CPU), the default of ``predict``, ``predict_from_dl`` and ``end2end_detect``.

[`accelerate`][efficientdet_adapter.model.runtime.accelerate] wraps a model for fixed-size
inference: the network runs in ``channels_last``
memory layout, under fp16/bf16 autocast, and compiled with ``torch.compile`` (on a GPU in
``mode="reduce-overhead"``: CUDA graphs, one kernel-launch replay per batch instead of hundreds
of launches). Post-processing (top-k, decoding, NMS) stays the model's own, in float32. The
result is an [`Accelerated`][efficientdet_adapter.model.runtime.Accelerated] module that
every inference function takes in place of the
model, so it is built (and compiled) once and reused:

    >>> fast = efficientdet.accelerate(model)            # doctest: +SKIP
    >>> preds = efficientdet.predict(fast, ds)           # doctest: +SKIP

It shares its weights with ``model`` (nothing is copied): a checkpoint saved from either is the
same, and further training shows in its next call. Images must have the model's ``img_size``.

Design: one explicit object rather than an ``accelerate=`` flag of ``predict``, because
compilation costs seconds to a minute and must be paid once, not on every call; the object is
an ``nn.Module`` whose ``.model`` is the bench, so everything that looks for the model inside
its wrappers (checkpoints, ``inference_tfm``, tiling) finds it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence

import torch
from torch import Tensor, nn

from efficientdet_adapter.base.devices import CANONICAL, choose_precision, engine_precision, resolve_device
from efficientdet_adapter.base.errors import BatchError
from efficientdet_adapter.model.ops.targets import img_size_wh
from efficientdet_adapter.model.onnx_model import OnnxModel
from efficientdet_adapter.model.wrappers import find_bench

__all__ = [
    "Accelerated",
    "PRECISIONS",
    "accelerate",
    "check_input_size",
    "detect",
    "inference_device",
    "model_device",
    "to_inference_device",
    "whole_input",
]

logger = logging.getLogger(__name__)

#: ``precision=`` values of ``accelerate`` (the command line's ``32``, ``16-mixed``,
#: ``bf16-mixed`` are read too; see ``efficientdet_adapter.base.devices``).
PRECISIONS = ("auto", *CANONICAL)

def model_device(model: nn.Module) -> torch.device:
    """Where ``model``'s parameters are (the CPU for a model without any)."""
    try:
        return next(model.parameters()).device
    except StopIteration:
        return torch.device("cpu")


def inference_device(device: str | torch.device | None = "auto",
                     model: nn.Module | None = None) -> torch.device:
    """The device to run inference on.

    Args:
        device: ``"auto"``: the model's GPU when it is on one, else ``cuda`` when PyTorch sees a
            GPU, else ``cpu``. ``None``: where the model is. Otherwise a device name
            (``"cpu"``, ``"cuda"``, ``"cuda:1"``) or a ``torch.device``.
        model: the model (for ``"auto"`` and ``None``).

    Raises:
        UsageError: a name that is not a device, or CUDA asked for where there is none.

    Example:
        >>> inference_device("cpu")
        device(type='cpu')
    """
    current = model_device(model) if model is not None else torch.device("cpu")
    if device is None:
        return current
    if isinstance(device, str) and device == "auto" and current.type == "cuda":
        return current
    return torch.device(resolve_device(device, option="device"))  # the one resolver


def check_input_size(bench: nn.Module, images: Tensor) -> None:
    """Raise BatchError unless ``images`` is ``[B, 3, H, W]`` at the model's ``img_size``."""
    h, w = bench.config.img_size
    if images.ndim != 4 or tuple(images.shape[-2:]) != (h, w):
        raise BatchError(
            f"images of shape {tuple(images.shape)} do not fit the model, built for {h}x{w} "
            f"(height x width): transform them with tfms.A.resize_and_pad(({h}, {w}))"
        )


def whole_input(images: Tensor) -> tuple[Tensor, Tensor]:
    """``(img_size [B, 2] (width, height), img_scale [B])`` of images that fill the input:
    detections are clipped to the input and stay in its pixels."""
    n, h, w = images.shape[0], images.shape[-2], images.shape[-1]
    size = torch.tensor([img_size_wh(height=float(h), width=float(w))],
                        device=images.device).expand(n, 2)
    return size, torch.ones(n, device=images.device)


def _network_call(net: nn.Module, device_type: str, dtype: torch.dtype | None) -> Callable:
    """``images -> (class_out, box_out)`` in float32, the network under autocast when ``dtype``."""

    def run(images: Tensor) -> tuple[list[Tensor], list[Tensor]]:
        with torch.autocast(device_type, dtype=dtype or torch.float32, enabled=dtype is not None):
            class_out, box_out = net(images)
        return [c.float() for c in class_out], [b.float() for b in box_out]

    return run


class Accelerated(nn.Module):
    """A model prepared by [`accelerate`][efficientdet_adapter.model.runtime.accelerate] (see
    the module docstring); ``.model`` is its bench.

    Use it wherever a model is taken for inference (``predict``, ``predict_from_dl``,
    ``end2end_detect``, ``detect``); ``fast(images)`` returns the detections ``[B, K, 6]`` of
    images at the model's size (boxes clipped to the input), as ``efficientdet.prediction.detect``.
    """

    def __init__(self, bench: nn.Module, run: Callable, *, precision: str, channels_last: bool,
                 compiled: str | None, cuda_graphs: bool) -> None:
        super().__init__()
        self.model = bench
        self._run = run  # a plain (maybe compiled) function: not a submodule, not in state_dict
        self.precision = precision
        self.channels_last = channels_last
        self.compiled = compiled
        self.cuda_graphs = cuda_graphs

    @property
    def config(self):
        """The bench's [`ModelConfig`][efficientdet_adapter.model.config.ModelConfig]."""
        return self.model.config

    def extra_repr(self) -> str:
        return (f"precision={self.precision}, channels_last={self.channels_last}, "
                f"compiled={self.compiled}, cuda_graphs={self.cuda_graphs}")

    @torch.no_grad()
    def detect(self, images: Tensor, img_size: Tensor | None = None,
               img_scale: Tensor | None = None) -> Tensor:
        """Detections ``[B, K, 6]`` as ``EfficientDetModel.detect``, through the fast network.

        Raises:
            BatchError: images not at the model's ``img_size`` (the path is fixed-size).
        """
        check_input_size(self.model, images)
        if self.channels_last:
            images = images.contiguous(memory_format=torch.channels_last)
        if self.cuda_graphs:
            torch.compiler.cudagraph_mark_step_begin()  # the last call's outputs are done with
        class_out, box_out = self._run(images)
        return self.model._detections(images.shape[0], class_out, box_out, img_scale, img_size)

    def forward(self, images: Tensor) -> Tensor:
        """Detections clipped to the input (``[B, K, 6]``, input pixels)."""
        img_size, img_scale = whole_input(images)
        return self.detect(images, img_size=img_size, img_scale=img_scale)

    def warmup(self, batch_sizes: Sequence[int] = (1,)) -> None:
        """Run (and so compile, and record CUDA graphs for) each batch size once, on zeros."""
        h, w = self.model.config.img_size
        device = model_device(self.model)
        was_training = self.training
        self.eval()
        try:
            for n in batch_sizes:
                self(torch.zeros(int(n), 3, h, w, device=device))
        finally:
            self.train(was_training)


def accelerate(
    model: nn.Module,
    *,
    device: str | torch.device | None = "auto",
    precision: str = "auto",
    channels_last: bool = True,
    compile: bool | str = "auto",
    mode: str | None = None,
    backend: str = "inductor",
) -> Accelerated:
    """Prepare ``model`` for fast fixed-size inference (see the module docstring).

    Args:
        model: the model from ``efficientdet.model``/``model_from_checkpoint`` (or a wrapper).
        device: where to run (see
            [`inference_device`][efficientdet_adapter.model.runtime.inference_device]); the
            model is moved there.
        precision: ``"fp16"`` or ``"bf16"`` (autocast of the network), ``"fp32"``, or
            ``"auto"``: fp16 on a GPU, fp32 on the CPU (where half precision rarely pays).
            The command line's spellings (``"16-mixed"``, ...) are read too
            ([`normalize_precision`][efficientdet_adapter.base.devices.normalize_precision]).
        channels_last: convert the network's weights (in place; their values do not change) and
            each batch to the ``channels_last`` memory layout, which cuDNN's and oneDNN's
            convolutions prefer.
        compile: ``torch.compile`` the network; ``"auto"``: on a GPU only (on the CPU compiling
            takes long and gains little).
        mode: ``torch.compile``'s mode; default ``"reduce-overhead"`` (CUDA graphs) on a GPU,
            ``None`` on the CPU.
        backend: ``torch.compile``'s backend (``"inductor"``; ``"aot_eager"`` needs no compiler).

    Returns:
        An [`Accelerated`][efficientdet_adapter.model.runtime.Accelerated] model, in eval
        mode. The first call of each batch size compiles
        (call ``.warmup([batch_size])`` to pay that before timing); batch sizes that vary
        compile again (up to torch's recompile limit).

    Raises:
        UsageError: an unknown device or precision.

    Example:
        >>> fast = accelerate(model, precision="fp16")                       # doctest: +SKIP
        >>> fast.warmup([8]); preds = predict(fast, ds, batch_size=8)        # doctest: +SKIP
    """
    bench = find_bench(model)
    dev = inference_device(device, bench)
    precision = choose_precision(precision, dev.type, training=False, option="precision")
    if precision == "fp16" and dev.type == "cpu":
        logger.info("fp16 autocast on the CPU is slow on most processors; consider 'bf16'")
    bench.to(dev).eval()
    net = bench.model
    if channels_last:
        net.to(memory_format=torch.channels_last)
    run = _network_call(net, dev.type, engine_precision(precision, "torch"))
    do_compile = dev.type == "cuda" if compile == "auto" else bool(compile)
    cuda_graphs = False
    if do_compile:
        if mode is None and dev.type == "cuda":
            mode = "reduce-overhead"
        cuda_graphs = dev.type == "cuda" and mode in ("reduce-overhead", "max-autotune")
        run = torch.compile(run, mode=mode, backend=backend, dynamic=False)
    fast = Accelerated(bench, run, precision=precision, channels_last=channels_last,
                       compiled=f"{backend}:{mode or 'default'}" if do_compile else None,
                       cuda_graphs=cuda_graphs)
    return fast.eval()


@torch.no_grad()
def detect(model: nn.Module, images: torch.Tensor) -> torch.Tensor:
    """effdet's detections ``[B, K, 6]`` (``x1, y1, x2, y2, score, cls``) in input pixels.

    The model's own post-process (top-k candidates, box decoding, clipping to the input,
    class-aware NMS). The model's mode is left unchanged: call it in eval mode (the public
    functions of this module do). ``model`` may be an accelerated model
    ([`accelerate`][efficientdet_adapter.model.runtime.accelerate]), whose network then runs
    in its faster form.

    Which ``detect``: this function takes a model in any wrapper (Lightning module, DDP,
    [`Accelerated`][efficientdet_adapter.model.runtime.Accelerated]) or an
    [`OnnxModel`][efficientdet_adapter.model.onnx_model.OnnxModel], checks the input
    size and clips to the whole input. The
    method ``EfficientDetModel.detect(images, img_size=None, img_scale=None)`` (and
    ``Accelerated.detect``, the same contract) is the bench-level call it ends in, for callers
    that pass effdet's image info themselves.

    Example:
        >>> dets = detect(model.eval(), images)   # images [B, 3, H, W] at the model's size
        ... # doctest: +SKIP

    Raises:
        BatchError: if the images are not the size the model was built for.
    """
    if isinstance(model, OnnxModel):  # ONNX Runtime: the graph post-processes itself
        return model(images)
    bench = find_bench(model)
    check_input_size(bench, images)
    runner = model if isinstance(model, Accelerated) else bench
    img_size, img_scale = whole_input(images)
    return runner.detect(images, img_size=img_size, img_scale=img_scale)


def to_inference_device(model: nn.Module, device: str | torch.device | None) -> torch.device:
    """Resolve ``device`` (see
    [`inference_device`][efficientdet_adapter.model.runtime.inference_device]) and move the
    model there
    (it stays there, as in IceVision)."""
    dev = inference_device(device, model)
    if model_device(model) != dev:
        model.to(dev)
    return dev
