"""The one safe reader of parameter files: what a file holds, and which layout it has.

Every file of weights the library opens (a checkpoint, an IceVision file, a fastai or Lightning
file, a bare state dict, a ``.safetensors`` file, effdet's COCO weights, a backbone) is read here,
once, by [`read_file`][efficientdet_adapter.weights.state_dict.read_file]
(``torch.load(weights_only=True)``: tensors and plain data only, never
pickled code). [`checkpoint_layout`][efficientdet_adapter.weights.state_dict.checkpoint_layout] then
says what was read, and the callers dispatch on that
without opening the file again;
[`load_checkpoint_data`][efficientdet_adapter.weights.state_dict.load_checkpoint_data] does both.

Every failure is a [`CheckpointError`][efficientdet_adapter.base.errors.CheckpointError] (a
[`WeightsError`][efficientdet_adapter.base.errors.WeightsError]) that names the file and says what to do.

Example:
    >>> data = load_checkpoint_data("runs/shapes/model.pt")        # doctest: +SKIP
    >>> data["layout"], sorted(data["state_dict"])[:1]         # doctest: +SKIP
    ('adapter', ['backbone.blocks.0.0.bn1.bias'])
"""

from __future__ import annotations

import pickle
import re
import zipfile
from collections.abc import Mapping
from os import PathLike
from pathlib import Path
from typing import Any

import torch

from efficientdet_adapter.base.errors import CheckpointError
from efficientdet_adapter.base.version_compat import safe_globals

__all__ = [
    "CHECKPOINT_FORMAT",
    "FORMAT_VERSION",
    "LAYOUTS",
    "read_file",
    "is_state_dict",
    "checkpoint_layout",
    "load_checkpoint_data",
    "tensors_of",
    "read_state_dict",
    "check_plain",
]

#: ``"format"`` of a file written by ``save_checkpoint``.
CHECKPOINT_FORMAT = "efficientdet_adapter.checkpoint"
#: The newest format version this library writes and reads.
FORMAT_VERSION = 1
#: What ``checkpoint_layout`` tells apart.
LAYOUTS = ("adapter", "icevision", "lightning", "fastai", "state_dict")

_PLAIN_SCALARS = (str, int, float, bool, type(None))
_NET_ROOTS = ("backbone.", "fpn.", "class_net.", "box_net.")
_WRAPPER_PREFIXES = ("module.", "model.", "_orig_mod.", "net.")
_WRAPPER_KEYS = ("state_dict", "model", "model_state_dict", "module")


def _safe_globals() -> list:
    """Plain-data classes that engines' files hold, allowed in ``weights_only`` loads.

    fastai's ``learn.save`` stores the optimizer state in fastcore ``L`` lists (a list subclass:
    rebuilding one runs no code of the file's choosing).
    """
    try:
        from fastcore.foundation import L  # noqa: PLC0415
    except ImportError:
        return []
    return [L]


def read_file(path: str | PathLike, map_location: Any = "cpu", *,
              what: str = "checkpoint file", name: str | None = None) -> Any:
    """What the file at ``path`` holds: ``torch.load(path, weights_only=True)``, or the tensors
    of a ``.safetensors`` file. Never runs pickled code.

    Args:
        path: the file.
        map_location: ``torch.load``'s (``None``: the CPU).
        what: how messages name the file (``"weights file"``).
        name: how messages name where the file came from (a URL), ``path`` by default.

    Raises:
        CheckpointError: the file is missing, not a PyTorch file, damaged, or holds pickled
            Python objects (the message says how to re-save only the weights).
    """
    path = Path(path)
    where = name or str(path)
    if not path.is_file():
        raise CheckpointError(f"{where}: {what} not found")
    if _is_program(path):
        raise CheckpointError(
            f"{where}: a torch.export program (what `export --format torch-export` writes), not a "
            "checkpoint; run it with torch.export.load(path).module()(images) and "
            "efficientdet_adapter.efficientdet.onnx_postprocess (see docs/export.md), or give "
            "the model.pt it was exported from"
        )
    try:
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file  # noqa: PLC0415

            return dict(load_file(str(path), device=str(map_location or "cpu")))
        with safe_globals(_safe_globals()):
            return torch.load(path, map_location=map_location or "cpu", weights_only=True)
    except pickle.UnpicklingError as e:
        found = re.search(r"GLOBAL ([\w.]+)", str(e))
        if found is None:  # not a pickle at all (a truncated or foreign file)
            raise CheckpointError(
                f"{where}: not a readable PyTorch checkpoint (the file is corrupt, truncated or of "
                "another kind)"
            ) from None
        raise CheckpointError(
            f"{where}: refused to load: the file holds a pickled Python object ({found.group(1)}), "
            "not only tensors and plain data, and loading it could run code. Checkpoints load "
            "with torch.load(weights_only=True). If you trust the file, re-save only its weights: "
            "torch.save(torch.load(path, weights_only=False)['state_dict'], 'weights.pt')"
        ) from None
    except Exception as e:  # zip, struct, EOF, safetensors...: whatever a damaged file raises
        raise CheckpointError(
            f"{where}: not a readable PyTorch checkpoint ({type(e).__name__}: {e}); expected a "
            "state dict (.pth/.pt/.bin, loadable with torch.load(weights_only=True)) or a "
            ".safetensors file"
        ) from None


def _is_program(path: Path) -> bool:
    """Whether ``path`` is a ``torch.export`` archive: a zip with ``<name>/archive_format``
    (torch 2.5 and later) or ``serialized_exported_program.json`` (torch 2.4's layout)."""
    try:
        with zipfile.ZipFile(path) as archive:
            return any(n.endswith("/archive_format")
                       or n.rsplit("/", 1)[-1] == "serialized_exported_program.json"
                       for n in archive.namelist())
    except (zipfile.BadZipFile, OSError):
        return False


def is_state_dict(obj: Any) -> bool:
    """Whether ``obj`` is a non-empty mapping of names to tensors."""
    return (
        isinstance(obj, Mapping)
        and len(obj) > 0
        and all(isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in obj.items())
    )


def checkpoint_layout(obj: Any, path: str | PathLike) -> dict[str, Any]:
    """What [`read_file`][efficientdet_adapter.weights.state_dict.read_file] read, as a dict with
    its layout under ``"layout"``.

    The layout is ``"adapter"`` (a ``save_checkpoint`` file), ``"icevision"`` (``meta`` +
    ``state_dict``), ``"lightning"`` (its ``hyper_parameters``' ``model_name``, ``class_map``
    and ``img_size`` come along), ``"fastai"`` (``{"model": ..., "opt": ...}``) or
    ``"state_dict"`` (a bare state dict).

    Raises:
        CheckpointError: a layout none of the above (``path`` is named), or a newer format.
    """
    if isinstance(obj, Mapping) and obj.get("format") == CHECKPOINT_FORMAT:
        version = obj.get("format_version")
        if not isinstance(version, int) or version > FORMAT_VERSION:
            raise CheckpointError(
                f"{path}: checkpoint format version {version!r} is newer than this library reads "
                f"(<= {FORMAT_VERSION}); upgrade efficientdet_adapter"
            )
        return {**obj, "layout": "adapter"}
    if (isinstance(obj, Mapping) and isinstance(obj.get("meta"), Mapping)
            and is_state_dict(obj.get("state_dict"))):
        return {**obj, "layout": "icevision"}  # IceVision's (mmcv's) layout: meta + state_dict
    if isinstance(obj, Mapping) and is_state_dict(obj.get("state_dict")):
        meta = obj.get("hyper_parameters") or {}
        found = {k: meta[k] for k in ("model_name", "class_map", "img_size") if k in meta}
        return {**found, "state_dict": obj["state_dict"], "layout": "lightning"}
    if isinstance(obj, Mapping) and is_state_dict(obj.get("model")):
        return {"state_dict": obj["model"], "layout": "fastai"}
    if is_state_dict(obj):
        return {"state_dict": dict(obj), "layout": "state_dict"}
    keys = sorted(map(str, obj.keys()))[:10] if isinstance(obj, Mapping) else type(obj).__name__
    raise CheckpointError(
        f"{path}: unknown checkpoint layout (top level: {keys}); expected a file written by "
        "save_checkpoint, an IceVision checkpoint, a fastai learn.save file, a Lightning "
        "ModelCheckpoint file or a state dict"
    )


def load_checkpoint_data(path: str | PathLike, map_location: Any = "cpu") -> dict[str, Any]:
    """[`checkpoint_layout`][efficientdet_adapter.weights.state_dict.checkpoint_layout] of
    [`read_file`][efficientdet_adapter.weights.state_dict.read_file]: the file's contents, read
    once, with
    ``"layout"`` (see there)."""
    return checkpoint_layout(read_file(path, map_location), path)


def tensors_of(data: Any, path: str | PathLike) -> dict[str, torch.Tensor]:
    """The tensor mapping inside what a file held (``state_dict``/``model``/... wrappers, up to
    four deep, removed).

    Raises:
        CheckpointError: no state dict of tensors in it.
    """
    for _ in range(4):
        if isinstance(data, Mapping) and data and all(torch.is_tensor(v) for v in data.values()):
            return dict(data)
        if not isinstance(data, Mapping):
            break
        inner = next((data[k] for k in _WRAPPER_KEYS if k in data), None)
        if inner is None:
            break
        data = inner
    keys = list(data)[:8] if isinstance(data, Mapping) else type(data).__name__
    raise CheckpointError(
        f"weights file {path} holds no state dict of tensors (found {keys}); save one with "
        "torch.save(model.state_dict(), path)"
    )


def _strip_wrappers(key: str) -> str:
    while not key.startswith(_NET_ROOTS):
        prefix = next((p for p in _WRAPPER_PREFIXES if key.startswith(p)), None)
        if prefix is None:
            return key
        key = key[len(prefix):]
    return key


def read_state_dict(path: str | PathLike) -> dict[str, torch.Tensor]:
    """A weights file's tensors, without checkpoint wrappers and ``module.``/``model.`` prefixes.

    Keys of a detector come out as ``backbone.*``, ``fpn.*``, ``class_net.*``, ``box_net.*``.

    Raises:
        CheckpointError: the file cannot be read safely or holds no tensors.
    """
    data = tensors_of(read_file(path, what="weights file"), path)
    return {_strip_wrappers(k): v for k, v in data.items()}


def check_plain(value: Any, where: str) -> None:
    """Raise unless ``value`` is JSON-like data or tensors (what ``weights_only`` loads)."""
    if isinstance(value, _PLAIN_SCALARS) or isinstance(value, torch.Tensor):
        return
    if isinstance(value, Mapping):
        for k, v in value.items():
            if not isinstance(k, (str, int)):
                raise CheckpointError(f"{where}: key {k!r} is not a str or int")
            check_plain(v, f"{where}[{k!r}]")
        return
    if isinstance(value, (list, tuple)):
        for i, v in enumerate(value):
            check_plain(v, f"{where}[{i}]")
        return
    raise CheckpointError(
        f"{where} is a {type(value).__name__}; checkpoints hold only plain data (str, int, float, "
        "bool, None, lists, dicts, tensors) so that they load without running pickled code"
    )
