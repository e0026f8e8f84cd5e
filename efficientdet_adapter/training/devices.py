"""Where and in which precision a run trains: ``--device`` and ``--precision`` resolved once.

``auto`` means the CUDA GPU when PyTorch sees one, else the CPU. The default precision is
``bf16-mixed`` on a GPU that supports bfloat16, ``16-mixed`` on an older GPU, ``32`` on the CPU.

Example:
    >>> resolve_device("auto"), resolve_precision("auto", "cpu")   # on a machine without a GPU
    ('cpu', '32')
"""

from __future__ import annotations

from ..errors import UsageError

__all__ = ["DEVICES", "PRECISIONS", "resolve_device", "resolve_precision"]

DEVICES = ("auto", "cpu", "cuda")
PRECISIONS = ("auto", "32", "16-mixed", "bf16-mixed")


def resolve_device(device: str = "auto") -> str:
    """``auto`` -> ``cuda`` or ``cpu``; ``cpu``, ``cuda`` and ``cuda:N`` are checked.

    Raises:
        UsageError: a name that is not a device, or a GPU this machine does not have.
    """
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    try:
        dev = torch.device(device)
    except (RuntimeError, ValueError):
        raise UsageError(f"--device {device}: not a device name; use auto, cpu, cuda or cuda:N"
                         ) from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise UsageError(f"--device {device}: PyTorch sees no CUDA GPU on this machine; use "
                         "--device cpu (or auto)")
    if dev.type == "cuda" and dev.index is not None and dev.index >= torch.cuda.device_count():
        raise UsageError(f"--device {device}: only {torch.cuda.device_count()} GPU(s) here; use "
                         f"cuda:0..cuda:{torch.cuda.device_count() - 1}")
    if dev.type == "mps" and not torch.backends.mps.is_available():
        raise UsageError(f"--device {device}: MPS is not available here; use --device cpu")
    if dev.type not in ("cpu", "cuda", "mps"):
        raise UsageError(f"--device {device}: use auto, cpu, cuda or cuda:N")
    return device


def resolve_precision(precision: str, device: str) -> str:
    """``auto`` -> ``bf16-mixed`` (GPU with bfloat16), ``16-mixed`` (other GPUs) or ``32``.

    Raises:
        UsageError: mixed precision asked for on the CPU (this library trains it in 32 bits).
    """
    import torch

    if precision not in PRECISIONS:
        raise UsageError(f"--precision {precision}: choose {', '.join(PRECISIONS)}")
    on_gpu = device.startswith("cuda")
    if precision == "auto":
        if not on_gpu:
            return "32"
        return "bf16-mixed" if torch.cuda.is_bf16_supported() else "16-mixed"
    if precision != "32" and not on_gpu:
        raise UsageError(f"--precision {precision} on {device}: mixed precision needs a CUDA GPU; "
                         "use --precision 32 on the CPU (or --device cuda)")
    if precision == "bf16-mixed" and not torch.cuda.is_bf16_supported():
        raise UsageError(f"--precision bf16-mixed: {torch.cuda.get_device_name()} has no bfloat16;"
                         " use --precision 16-mixed")
    return precision
