"""Checkpoints of the model: write one safe file with the weights and the config, read it back.

A checkpoint written by :func:`save_checkpoint` is a plain dict of tensors and JSON-like data::

    {"format": "efficientdet_adapter.checkpoint", "format_version": 1,
     "model_name": "tf_efficientdet_lite0", "num_classes": 3, "img_size": [384, 384],
     "mean": [...], "std": [...], "class_map": {"classes": [...], "background": "background"},
     "state_dict": {<EfficientDet network weights, no prefix>}, "extra": {...}}

:func:`load_checkpoint_data` reads it (and the fastai, Lightning and bare state-dict files) with
``torch.load(weights_only=True)``, so no pickled code runs; :func:`rebuild_model` turns what it
read into a model. The module rebuilds models, so it lives with them, below everything that
saves or loads one; the public entry points (``model_from_checkpoint``, which also answers
IceVision's calls, and ``convert_checkpoint``) are in :mod:`efficientdet_adapter.checkpoint`.

Example:
    >>> save_checkpoint(model, "runs/shapes/model.pt", class_map)           # doctest: +SKIP
    >>> data = load_checkpoint_data("runs/shapes/model.pt")                  # doctest: +SKIP
    >>> model, class_map, config = rebuild_model(data, path="runs/shapes/model.pt")  # doctest: +SKIP
"""

from __future__ import annotations

import io
import logging
import pickle
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ..atomic import _umask, atomic_open
from ..class_map import ClassMap
from ..errors import CheckpointError, ClassMapError
from ..images import IMAGENET_MEAN, IMAGENET_STD
from ..version_compat import safe_globals
from ._targets import num_classes_with_background
from .config import ModelConfig, default_img_size
from .model import EfficientDetModel
from .wrappers import find_network

__all__ = [
    "CHECKPOINT_FORMAT",
    "FORMAT_VERSION",
    "MAX_IMG_SIZE",
    "atomic_torch_save",
    "model_metadata",
    "save_checkpoint",
    "checkpoint_layout",
    "load_checkpoint_data",
    "rebuild_model",
]

logger = logging.getLogger(__name__)

MAX_IMG_SIZE = 4096  # the largest input side a checkpoint may ask for

CHECKPOINT_FORMAT = "efficientdet_adapter.checkpoint"
FORMAT_VERSION = 1

_PLAIN_SCALARS = (str, int, float, bool, type(None))


# -- saving ------------------------------------------------------------------------------------
def atomic_torch_save(data: Any, path: str | Path) -> Path:
    """``torch.save(data, path)`` through :func:`~efficientdet_adapter.atomic.atomic_open`: the
    file at ``path`` is always either the old one or the complete new one (a crash, a kill or a
    full disk while writing never leaves half a checkpoint; a full disk is a ``SaveError``
    naming the file)."""
    buffer = io.BytesIO()  # serialized first: torch's zip writer turns a failed write into a
    torch.save(data, buffer)  # RuntimeError about stream positions, not the disk's OSError
    with atomic_open(path, "wb") as f:
        f.write(buffer.getbuffer())
    return Path(path)


def model_metadata(model: nn.Module) -> dict[str, Any]:
    """``model_name, num_classes (with background), img_size (H, W), mean, std`` of a model.

    Reads the adapter's ``ModelConfig`` (also kept whole, as ``model_config``, with its effdet
    overrides), or effdet's own config for a bench built with ``effdet.create_model``.
    """
    config = getattr(model, "config", None)
    if config is not None and hasattr(config, "to_dict") and hasattr(config, "model_name"):
        return {  # our ModelConfig: the top-level keys for people, the dict to rebuild it
            "model_name": str(config.model_name),
            "num_classes": int(config.num_classes),
            "img_size": [int(s) for s in config.img_size],
            "mean": [float(v) for v in config.mean],
            "std": [float(v) for v in config.std],
            "model_config": config.to_dict(),
        }
    net_config = find_network(model).config  # effdet's OmegaConf config: foreground classes only
    size = net_config.image_size
    size = [int(size), int(size)] if isinstance(size, int) else [int(s) for s in size]
    return {
        "model_name": str(net_config.name),
        "num_classes": num_classes_with_background(net_config.num_classes),
        "img_size": size,
        "mean": [float(v) for v in net_config.get("mean", None) or IMAGENET_MEAN],
        "std": [float(v) for v in net_config.get("std", None) or IMAGENET_STD],
    }


def _check_plain(value: Any, where: str) -> None:
    """Raise unless ``value`` is JSON-like data or tensors (what ``weights_only`` loads)."""
    if isinstance(value, _PLAIN_SCALARS) or isinstance(value, torch.Tensor):
        return
    if isinstance(value, Mapping):
        for k, v in value.items():
            if not isinstance(k, (str, int)):
                raise CheckpointError(f"{where}: key {k!r} is not a str or int")
            _check_plain(v, f"{where}[{k!r}]")
        return
    if isinstance(value, (list, tuple)):
        for i, v in enumerate(value):
            _check_plain(v, f"{where}[{i}]")
        return
    raise CheckpointError(
        f"{where} is a {type(value).__name__}; checkpoints hold only plain data (str, int, float, "
        "bool, None, lists, dicts, tensors) so that they load without running pickled code"
    )


def save_checkpoint(
    model: nn.Module,
    path: str | Path,
    class_map: ClassMap,
    *,
    extra: Mapping[str, Any] | None = None,
) -> Path:
    """Write the weights, model name, ``img_size``, class map and normalization to one file.

    Args:
        model: the model (an ``EfficientDetModel`` from ``efficientdet.model``, or an effdet
            bench).
        path: the file to write (parent folders are created).
        class_map: the class map the model was trained with (``len(class_map)`` must equal the
            model's ``num_classes``).
        extra: more plain data to keep (epochs, metrics, ...), readable with
            :func:`load_checkpoint_data`.

    Returns:
        The path written (atomically: a temporary file renamed into place).

    Example:
        >>> save_checkpoint(model, "runs/demo/model.pt", class_map, extra={"AP50": 0.88})
    """
    meta = model_metadata(model)
    if len(class_map) != meta["num_classes"]:
        raise CheckpointError(
            f"the class map has {len(class_map)} classes (background included) but the model "
            f"predicts {meta['num_classes']}; pass the class map the model was built with"
        )
    extra = dict(extra or {})
    _check_plain(extra, "extra")
    state = {k: v.detach().cpu().clone() for k, v in find_network(model).state_dict().items()}
    data = {
        "format": CHECKPOINT_FORMAT,
        "format_version": FORMAT_VERSION,
        **meta,
        "class_map": class_map.to_dict(),
        "state_dict": state,
        "extra": extra,
    }
    path = atomic_torch_save(data, path)
    logger.info("saved checkpoint %s (%s, %d classes)", path, meta["model_name"], len(class_map))
    return path


# -- loading -----------------------------------------------------------------------------------
def _safe_globals() -> list:
    """Plain-data classes that engines' files hold, allowed in ``weights_only`` loads.

    fastai's ``learn.save`` stores the optimizer state in fastcore ``L`` lists (a list subclass:
    rebuilding one runs no code of the file's choosing).
    """
    try:
        from fastcore.foundation import L
    except ImportError:
        return []
    return [L]


def _safe_load(path: Path, map_location: Any = "cpu") -> Any:
    """``torch.load(path, weights_only=True)``: tensors and plain data only, never pickled code."""
    if not path.is_file():
        raise CheckpointError(f"{path}: checkpoint file not found")
    try:
        with safe_globals(_safe_globals()):
            return torch.load(path, map_location=map_location or "cpu", weights_only=True)
    except pickle.UnpicklingError as e:
        found = re.search(r"GLOBAL ([\w.]+)", str(e))
        if found is None:  # not a pickle at all (a truncated or foreign file)
            raise CheckpointError(
                f"{path}: not a readable PyTorch checkpoint (the file is corrupt, truncated or of "
                "another kind)"
            ) from None
        raise CheckpointError(
            f"{path}: refused to load: the file holds a pickled Python object ({found.group(1)}), "
            "not only tensors and plain data, and loading it could run code. Checkpoints load "
            "with torch.load(weights_only=True). If you trust the file, re-save only its weights: "
            "torch.save(torch.load(path, weights_only=False)['state_dict'], 'weights.pt')"
        ) from None
    except Exception as e:  # zip, struct, EOF, ...: whatever a damaged file makes torch raise
        raise CheckpointError(
            f"{path}: not a readable PyTorch checkpoint ({type(e).__name__}: {e})"
        ) from None


def _is_state_dict(obj: Any) -> bool:
    return (
        isinstance(obj, Mapping)
        and len(obj) > 0
        and all(isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in obj.items())
    )


def load_checkpoint_data(path: str | Path) -> dict[str, Any]:
    """The checkpoint's contents as a dict (safely), with its layout under ``"layout"``.

    The layout is ``"adapter"`` (a :func:`save_checkpoint` file), ``"icevision"`` (``meta`` +
    ``state_dict``), ``"lightning"``, ``"fastai"`` (``{"model": ..., "opt": ...}``) or
    ``"state_dict"`` (a bare state dict); see :func:`checkpoint_layout`.
    """
    path = Path(path)
    return checkpoint_layout(_safe_load(path), path)


def checkpoint_layout(obj: Any, path: str | Path) -> dict[str, Any]:
    """What :func:`load_checkpoint_data` returns, from the object a file held (read once).

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
            and _is_state_dict(obj.get("state_dict"))):
        return {**obj, "layout": "icevision"}  # IceVision's (mmcv's) layout: meta + state_dict
    if isinstance(obj, Mapping) and _is_state_dict(obj.get("state_dict")):
        meta = obj.get("hyper_parameters") or {}
        found = {k: meta[k] for k in ("model_name", "class_map", "img_size") if k in meta}
        return {**found, "state_dict": obj["state_dict"], "layout": "lightning"}
    if isinstance(obj, Mapping) and _is_state_dict(obj.get("model")):
        return {"state_dict": obj["model"], "layout": "fastai"}
    if _is_state_dict(obj):
        return {"state_dict": dict(obj), "layout": "state_dict"}
    keys = sorted(map(str, obj.keys()))[:10] if isinstance(obj, Mapping) else type(obj).__name__
    raise CheckpointError(
        f"{path}: unknown checkpoint layout (top level: {keys}); expected a file written by "
        "save_checkpoint, an IceVision checkpoint, a fastai learn.save file, a Lightning "
        "ModelCheckpoint file or a state dict"
    )


def _best_prefix(state: Mapping[str, torch.Tensor], expected: set[str]) -> str:
    """The key prefix that engines add (``model.``, ``model.model.``...) under which most of
    the network's tensors are found (the shortest of equals)."""
    counts: dict[str, int] = {}
    for key in state:
        parts = key.split(".")
        for i in range(len(parts)):
            if ".".join(parts[i:]) in expected:
                prefix = "".join(p + "." for p in parts[:i])
                counts[prefix] = counts.get(prefix, 0) + 1
    if not counts:
        return ""
    return min(counts, key=lambda p: (-counts[p], len(p)))


def _match_prefix(state: Mapping[str, torch.Tensor], expected: Sequence[str], path: Path,
                  strict: bool = True) -> dict:
    """``state`` with the engines' prefix removed, restricted to the network's keys.

    Keys outside the network (effdet's anchor boxes, an optimizer's...) are left out. With
    ``strict`` every network tensor must be there; without it, missing ones keep their initial
    values and are logged (as mmcv's ``load_state_dict(strict=False)`` did), but at least one
    must match.
    """
    wanted = set(expected)
    prefix = _best_prefix(state, wanted)
    stripped = {k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix)}
    matched = {k: stripped[k] for k in expected if k in stripped}
    missing = [k for k in expected if k not in matched]
    if missing and (strict or not matched):
        raise CheckpointError(
            f"{path}: the weights do not fit the model: {len(missing)} of its {len(expected)} "
            f"tensors are missing (e.g. {missing[:3]}); pass the model_name the file was trained "
            "with" + ("" if strict else " (or revise_keys=[(pattern, replacement)] for its key "
                      f"names, which look like {sorted(state)[:2]})")
        )
    if missing:
        logger.warning("%s: %d of the model's %d tensors are not in the file and keep their "
                       "initial values (strict=False), e.g. %s", path, len(missing),
                       len(expected), missing[:3])
    return matched


def _load_weights(net: nn.Module, state: Mapping[str, torch.Tensor], path: Path,
                  strict: bool = True) -> None:
    """Copy ``state`` into the effdet network ``net`` (see :func:`_match_prefix`); a tensor of
    another shape is an error whatever ``strict`` says (a head for other classes, most often)."""
    expected = list(net.state_dict().keys())
    matched = _match_prefix(state, expected, path, strict)
    target = net.state_dict()
    for key, tensor in matched.items():
        if tuple(tensor.shape) != tuple(target[key].shape):
            hint = "pass the model_name the file was trained with"
            if "class_net.predict" in key:
                anchors = int(net.config.num_scales) * len(net.config.aspect_ratios)
                fg = tensor.shape[0] / anchors
                hint = (
                    f"the file predicts {fg:g} foreground classes but the class map has "
                    f"{int(net.config.num_classes)}: pass the class map it was trained with"
                )
            raise CheckpointError(
                f"{path}: tensor {key} has shape {tuple(tensor.shape)} in the file but "
                f"{tuple(target[key].shape)} in the model; {hint}"
            )
    net.load_state_dict(matched, strict=strict)


def _build_model(data: Mapping[str, Any], model_name: str, num_classes: int, img_size) -> nn.Module:
    """An untrained model shaped like the file's (its whole ModelConfig when it has one)."""
    if data.get("model_config") is not None:
        config = ModelConfig.from_dict(data["model_config"])
    else:
        mean, std = data.get("mean"), data.get("std")
        config = ModelConfig(
            model_name, num_classes, tuple(int(s) for s in img_size),
            mean=None if mean is None else tuple(mean), std=None if std is None else tuple(std),
        )
    return EfficientDetModel.from_config(config)


def rebuild_model(
    data: Mapping[str, Any],
    *,
    path: str | Path,
    device: str | torch.device = "cpu",
    class_map: ClassMap | None = None,
    model_name: str | None = None,
    img_size: int | Sequence[int] | None = None,
    strict: bool = True,
):
    """The model of :func:`load_checkpoint_data`'s ``data``, in eval mode on ``device``.

    Args:
        data: what :func:`load_checkpoint_data` read from ``path`` (any layout but IceVision's).
        path: the file it came from (named in errors).
        device: where to put the model.
        class_map, model_name, img_size: what the engines' files do not hold (ignored, with a
            warning on disagreement, for files that hold them); see
            :func:`efficientdet_adapter.checkpoint.load_model`.
        strict: every tensor of the network must be in the file (see :func:`_match_prefix`).

    Returns:
        ``(model, class_map, config)``.
    """
    path = Path(path)
    stored_map = data.get("class_map")
    if stored_map is not None:
        try:
            stored_map = ClassMap.from_dict(stored_map)
        except ClassMapError as e:
            raise CheckpointError(f"{path}: the stored class map is not valid ({e})") from None
        if class_map is not None and class_map != stored_map:
            logger.warning("%s: using the file's class map %s, not the one passed", path, stored_map)
        class_map = stored_map
    stored_name = data.get("model_name")
    if stored_name is not None:
        if model_name is not None and model_name != stored_name:
            logger.warning("%s: using the file's model_name %r, not %r", path, stored_name, model_name)
        model_name = stored_name
    if data.get("img_size") is not None:
        img_size = data["img_size"]

    lacking = [n for n, v in (("class_map", class_map), ("model_name", model_name)) if v is None]
    if lacking:
        raise CheckpointError(
            f"{path}: this {data['layout']} file holds only weights, not the "
            f"{' and '.join(lacking)}; pass them: load_model(path, "
            "class_map=ClassMap([...]), model_name='tf_efficientdet_lite0'), the ones the model "
            "was trained with"
        )
    if img_size is None:  # effdet's size, rounded up as model() does
        img_size = default_img_size(model_name)
    elif isinstance(img_size, int):
        img_size = (img_size, img_size)
    config = data.get("model_config")
    asked = config.get("img_size") if isinstance(config, Mapping) else None
    for size in (img_size, asked):  # a crafted file must not allocate gigabytes of anchors
        sides = (size, size) if isinstance(size, int) else size
        if sides is not None and any(
            not isinstance(v, int) or not 0 < v <= MAX_IMG_SIZE for v in sides
        ):
            raise CheckpointError(
                f"{path}: img_size {size} is not a size in 1..{MAX_IMG_SIZE} (EfficientDet's "
                "largest config uses 1536); the file is damaged or was not written by this "
                "library"
            )
    if data.get("num_classes") is not None and int(data["num_classes"]) != len(class_map):
        raise CheckpointError(
            f"{path}: the file says num_classes={data['num_classes']} but its class map has "
            f"{len(class_map)} classes; the file is inconsistent"
        )

    try:
        model = _build_model(data, model_name, len(class_map), img_size)
    except ValueError as e:  # ModelConfigError: an unknown model name, a bad size...
        raise CheckpointError(f"{path}: cannot rebuild the model: {e}") from None
    _load_weights(find_network(model), data["state_dict"], path, strict)
    model.to(device).eval()
    return model, class_map, model.config
