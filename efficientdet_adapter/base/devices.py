"""Where and in which precision the model runs: one device resolver, one precision vocabulary.

Devices: ``auto`` means the CUDA GPU when PyTorch sees one, else the CPU; ``cpu``, ``cuda``,
``cuda:N`` and ``mps`` are checked against this machine
([`resolve_device`][efficientdet_adapter.base.devices.resolve_device]).

Precision has one vocabulary, `CANONICAL` (``fp32``, ``fp16``, ``bf16``: float32, or mixed
precision in float16 / bfloat16). Every spelling the public API took is read into it once by
[`normalize_precision`][efficientdet_adapter.base.devices.normalize_precision] (the command line's and
Lightning's ``32``, ``16-mixed``,
``bf16-mixed``; [`accelerate`][efficientdet_adapter.model.runtime.accelerate]'s ``fp32``,
``fp16``, ``bf16``), and [`engine_precision`][efficientdet_adapter.base.devices.engine_precision] is the
one mapping to what each engine wants
(Lightning's ``precision=``, fastai's ``to_fp16``/``to_bf16``, torch's autocast dtype).
[`choose_precision`][efficientdet_adapter.base.devices.choose_precision] resolves ``auto``: for training
``bf16`` on a GPU that supports
bfloat16, ``fp16`` on an older GPU, ``fp32`` on the CPU; for inference ``fp16`` on a GPU.

Example:
    >>> resolve_device("auto"), choose_precision("auto", "cpu")   # on a machine without a GPU
    ('cpu', 'fp32')
    >>> normalize_precision("16-mixed"), engine_precision("bf16", "lightning")
    ('fp16', 'bf16-mixed')
"""

from __future__ import annotations

from typing import Any, Literal, get_args

from efficientdet_adapter.base.errors import UsageError

__all__ = ["DEVICES", "Precision", "PRECISIONS", "CANONICAL", "resolve_device", "normalize_precision",
           "choose_precision", "engine_precision", "resolve_precision", "busy_cores",
           "threads_for", "auto_threads"]

DEVICES = ("auto", "cpu", "cuda")
#: The command line's ``--precision`` choices (Lightning's spelling).
Precision = Literal["auto", "32", "16-mixed", "bf16-mixed"]
PRECISIONS: tuple[str, ...] = get_args(Precision)
#: The one vocabulary: float32, mixed float16, mixed bfloat16.
CANONICAL = ("fp32", "fp16", "bf16")
#: Every accepted spelling -> its canonical name (``auto`` stays ``auto``).
_SPELLINGS = {
    "auto": "auto",
    "fp32": "fp32", "32": "fp32", "32-true": "fp32", "float32": "fp32",
    "fp16": "fp16", "16-mixed": "fp16", "16": "fp16", "float16": "fp16",
    "bf16": "bf16", "bf16-mixed": "bf16", "bfloat16": "bf16",
}
#: canonical -> each engine's spelling (the one mapping).
_ENGINES: dict[str, dict[str, Any]] = {
    "lightning": {"fp32": "32", "fp16": "16-mixed", "bf16": "bf16-mixed"},  # also the CLI's
    "fastai": {"fp32": None, "fp16": "to_fp16", "bf16": "to_bf16"},  # the Learner's method
}


def _shown(option: str, value: Any) -> str:
    return f"{option} {value}" if option.startswith("--") else f"{option}={value!r}"


def resolve_device(device: Any = "auto", *, option: str = "--device") -> str:
    """``auto`` -> ``cuda`` or ``cpu``; ``cpu``, ``cuda``, ``cuda:N`` (a name or a
    ``torch.device``) are checked against this machine.

    Args:
        device: the device asked for.
        option: how the caller names the argument in messages (``--device``, ``device``).

    Raises:
        UsageError: a name that is not a device, or a GPU this machine does not have.
    """
    import torch  # noqa: PLC0415

    if isinstance(device, str) and device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    shown = _shown(option, device)
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError, ValueError):
        names = ("auto, cpu, cuda or cuda:N" if option.startswith("--")
                 else "'auto', 'cpu', 'cuda', 'cuda:N' or a torch.device")
        raise UsageError(f"{shown}: {str(device)!r} is not a device; use {names}") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise UsageError(f"{shown}: PyTorch sees no CUDA GPU on this machine; use "
                         f"{_shown(option, 'cpu')} (or auto)")
    if dev.type == "cuda" and dev.index is not None and dev.index >= torch.cuda.device_count():
        raise UsageError(f"{shown}: only {torch.cuda.device_count()} GPU(s) here; use "
                         f"cuda:0..cuda:{torch.cuda.device_count() - 1}")
    if dev.type == "mps" and not torch.backends.mps.is_available():
        raise UsageError(f"{shown}: MPS is not available here; use {_shown(option, 'cpu')}")
    if dev.type not in ("cpu", "cuda", "mps"):
        raise UsageError(f"{shown}: use auto, cpu, cuda or cuda:N")
    return str(device) if isinstance(device, str) else str(dev)


def normalize_precision(precision: Any, *, option: str = "--precision") -> str:
    """Any accepted spelling -> ``auto`` or one of `CANONICAL`.

    Raises:
        UsageError: not a precision (the message lists both spellings).
    """
    key = str(precision).strip().lower() if isinstance(precision, (str, int)) else None
    if key not in _SPELLINGS:
        raise UsageError(
            f"{_shown(option, precision)}: choose one of auto, fp32, fp16, bf16 (also spelled 32, "
            "16-mixed, bf16-mixed)")
    return _SPELLINGS[key]


def choose_precision(precision: Any, device: Any, *, training: bool = True,
                     option: str = "--precision") -> str:
    """The canonical precision to run in on ``device`` (``auto`` resolved, choices checked).

    ``auto``: training: ``bf16`` on a GPU with bfloat16, ``fp16`` on other GPUs, ``fp32`` on the
    CPU; inference: ``fp16`` on a GPU, ``fp32`` on the CPU (where half precision rarely pays).

    Raises:
        UsageError: an unknown spelling; for training, mixed precision on the CPU (this library
            trains it in 32 bits) or bfloat16 on a GPU without it.
    """
    import torch  # noqa: PLC0415

    value = normalize_precision(precision, option=option)
    on_gpu = str(device).startswith("cuda")
    if value == "auto":
        if not on_gpu:
            return "fp32"
        if not training:
            return "fp16"
        return "bf16" if torch.cuda.is_bf16_supported() else "fp16"
    if training and value != "fp32" and not on_gpu:
        raise UsageError(f"{_shown(option, precision)} on {device}: mixed precision needs a CUDA "
                         f"GPU; use {_shown(option, '32')} on the CPU (or --device cuda)")
    if training and value == "bf16" and not torch.cuda.is_bf16_supported():
        raise UsageError(f"{_shown(option, precision)}: {torch.cuda.get_device_name()} has no "
                         f"bfloat16; use {_shown(option, '16-mixed')}")
    return value


def engine_precision(precision: str, engine: str) -> Any:
    """The one mapping from a canonical precision to an engine's spelling.

    ``engine``: ``"lightning"`` (``Trainer(precision=...)``: ``32``, ``16-mixed``,
    ``bf16-mixed``; the command line's spelling too), ``"fastai"`` (the Learner method to call:
    ``None``, ``"to_fp16"``, ``"to_bf16"``) or ``"torch"`` (the autocast dtype, ``None`` for
    float32).

    Example:
        >>> engine_precision("fp16", "fastai"), engine_precision("fp32", "lightning")
        ('to_fp16', '32')
    """
    value = normalize_precision(precision, option="precision")
    if value == "auto":
        raise UsageError("engine_precision: resolve 'auto' first with choose_precision(...)")
    if engine == "torch":
        import torch  # noqa: PLC0415

        return {"fp32": None, "fp16": torch.float16, "bf16": torch.bfloat16}[value]
    if engine not in _ENGINES:
        raise UsageError(f"engine={engine!r}: choose lightning, fastai or torch")
    return _ENGINES[engine][value]


def resolve_precision(precision: str, device: str) -> str:
    """The command line's ``--precision`` for a training run on ``device``, in its own (and
    Lightning's) spelling: ``auto`` -> ``bf16-mixed`` (GPU with bfloat16), ``16-mixed`` (other
    GPUs) or ``32``. [`choose_precision`][efficientdet_adapter.base.devices.choose_precision] then
    [`engine_precision`][efficientdet_adapter.base.devices.engine_precision] (``"lightning"``).

    Raises:
        UsageError: as [`choose_precision`][efficientdet_adapter.base.devices.choose_precision].
    """
    if precision not in PRECISIONS:
        raise UsageError(f"--precision {precision}: choose {', '.join(PRECISIONS)}")
    return engine_precision(choose_precision(precision, device), "lightning")


# -- CPU threads -----------------------------------------------------------------------------
def busy_cores(sample_s: float = 0.2) -> float | None:
    """How many of this machine's cores other work keeps busy now: the non-idle share of
    ``/proc/stat``'s CPU time over ``sample_s`` seconds, times the cores. ``None`` where there is
    no ``/proc/stat`` (not Linux)."""
    import os  # noqa: PLC0415
    import time  # noqa: PLC0415

    def ticks() -> tuple[int, int] | None:
        try:
            with open("/proc/stat", encoding="ascii") as f:
                fields = [int(x) for x in f.readline().split()[1:]]
        except (OSError, ValueError):
            return None
        if len(fields) < 4:
            return None
        idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
        return sum(fields[:8]), idle  # user..steal; guest time is inside user already

    first = ticks()
    if first is None:
        return None
    time.sleep(sample_s)
    second = ticks()
    if second is None or second[0] <= first[0]:
        return None
    total, idle = second[0] - first[0], second[1] - first[1]
    return (1.0 - idle / total) * (os.cpu_count() or 1)


def threads_for(default: int, cores: int, busy: float | None) -> int:
    """PyTorch's intra-op threads on ``cores`` cores of which ``busy`` are in use elsewhere: one
    per free core, at most ``default`` (PyTorch's own choice), at least 1.

    A thread per core on a busy machine makes every parallel operation wait for the thread the
    scheduler put aside (docs/benchmarks.md has the step times on a busy 2-core machine).

    Example:
        >>> threads_for(2, 2, 0.1), threads_for(2, 2, 1.2), threads_for(8, 16, 3.0)
        (2, 1, 8)
    """
    if busy is None:
        return default
    return max(1, min(default, int(cores - busy + 0.5)))


def auto_threads(sample_s: float = 0.2) -> tuple[int, int, float | None]:
    """``(threads, pytorch_default, busy)`` for ``--threads auto``: `threads_for` this machine
    as `busy_cores` finds it now."""
    import os  # noqa: PLC0415

    import torch  # noqa: PLC0415

    default = torch.get_num_threads()
    busy = busy_cores(sample_s)
    return threads_for(default, os.cpu_count() or default, busy), default, busy
