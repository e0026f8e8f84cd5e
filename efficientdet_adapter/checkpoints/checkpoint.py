"""Checkpoints of the model: write one safe file with the weights and the config, read any
checkpoint back into a model.

A checkpoint written by [`save_checkpoint`][efficientdet_adapter.checkpoints.checkpoint.save_checkpoint]
is a plain dict of tensors and JSON-like data::

    {"format": "efficientdet_adapter.checkpoint", "format_version": 1,
     "model_name": "tf_efficientdet_lite0", "num_classes": 3, "img_size": [384, 384],
     "mean": [...], "std": [...], "class_map": {"classes": [...], "background": "background"},
     "state_dict": {<EfficientDet network weights, no prefix>}, "extra": {...}}

Two loaders, one read each
([`load_checkpoint_data`][efficientdet_adapter.weights.state_dict.load_checkpoint_data], with
``torch.load(weights_only=True)``, so no pickled code runs), dispatched on the file's layout:

- [`load_model`][efficientdet_adapter.checkpoints.checkpoint.load_model], the library's own: ``(model,
  class_map, config)``; it also reads the files
  the training engines write, given what they lack (a fastai ``learn.save`` file or a bare state
  dict; a Lightning ``ModelCheckpoint`` file) and IceVision checkpoints.
  [`model_from_data`][efficientdet_adapter.checkpoints.checkpoint.model_from_data] does the same with
  what was already read.
- [`model_from_checkpoint`][efficientdet_adapter.models.checkpoint.model_from_checkpoint],
  IceVision's: always IceVision's dict
  ([`CheckpointAndModel`][efficientdet_adapter.model.icevision.CheckpointAndModel]), whatever
  arguments it gets.

Example:
    >>> save_checkpoint(model, "runs/shapes/model.pt", class_map, extra={"epochs": 12})
    >>> model, class_map, config = load_model("runs/shapes/model.pt")
    >>> loaded = model_from_checkpoint("runs/shapes/model.pt")
    >>> loaded["model"], loaded["class_map"], loaded["img_size"]
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping, Sequence
from os import PathLike
from pathlib import Path
from typing import Any

import torch
from torch import nn

from efficientdet_adapter.base.arguments import path_arg
from efficientdet_adapter.base.atomic import atomic_torch_save
from efficientdet_adapter.records.class_map import BACKGROUND, ClassMap
from efficientdet_adapter.base.errors import CheckpointError, ClassMapError
from efficientdet_adapter.records.images import IMAGENET_MEAN, IMAGENET_STD
from efficientdet_adapter.model.ops.targets import num_classes_with_background
from efficientdet_adapter.model.config import MAX_IMG_SIZE, ModelConfig, default_img_size
from efficientdet_adapter.records.record import normalize_img_size
from efficientdet_adapter.model.model import EfficientDetModel
from efficientdet_adapter.model.wrappers import find_network
from efficientdet_adapter.weights.hub import is_url, local_file
from efficientdet_adapter.model.icevision import (
    CheckpointAndModel,
    IceVisionFields,
    backbone_of,
    icevision_fields,
    img_size_field,
)
from efficientdet_adapter.weights.loading import load_weights
from efficientdet_adapter.weights.state_dict import (
    CHECKPOINT_FORMAT,
    FORMAT_VERSION,
    check_plain,
    checkpoint_layout,
    load_checkpoint_data,
    read_file,
)

__all__ = [
    "CHECKPOINT_FORMAT",
    "FORMAT_VERSION",
    "model_metadata",
    "save_checkpoint",
    "load_checkpoint_data",
    "rebuild_model",
    "load_model",
    "model_from_data",
    "convert_checkpoint",
    "checkpoint_and_model",
]

_logger = logging.getLogger(__name__)


# -- saving ------------------------------------------------------------------------------------
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
            [`load_checkpoint_data`][efficientdet_adapter.weights.state_dict.load_checkpoint_data].

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
    check_plain(extra, "extra")
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
    _logger.info("saved checkpoint %s (%s, %d classes)", path, meta["model_name"], len(class_map))
    return path


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


def _check_stored_classes(stored: Any, path: Path) -> None:
    """A file's class map lists foreground names only; one that lists its background among them
    (an IceVision-style list, ``["background", "cat"]``) is named as such, with the fix."""
    if not isinstance(stored, Mapping):
        return
    classes, background = stored.get("classes"), stored.get("background", BACKGROUND)
    if isinstance(classes, list) and background is not None and background in classes:
        raise CheckpointError(
            f"{path}: its class map lists the background class {background!r} among its "
            f"{len(classes)} classes ({str(classes)[:80]}); a checkpoint lists the foreground "
            "classes only (the background is id 0 by itself): save it again with "
            f"data['class_map']['classes'] = [c for c in classes if c != {background!r}]"
        )


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
    """The model of
    [`load_checkpoint_data`][efficientdet_adapter.weights.state_dict.load_checkpoint_data]'s
    ``data``, in eval mode on ``device``.

    Args:
        data: what
            [`load_checkpoint_data`][efficientdet_adapter.weights.state_dict.load_checkpoint_data]
            read from ``path`` (any layout but IceVision's).
        path: the file it came from (named in errors).
        device: where to put the model.
        class_map, model_name, img_size: what the engines' files do not hold (ignored, with a
            warning on disagreement, for files that hold them); see
            [`efficientdet_adapter.checkpoint.load_model`][efficientdet_adapter.checkpoints.checkpoint.load_model].
        strict: every tensor of the network must be in the file (see
            [`match_prefix`][efficientdet_adapter.weights.loading.match_prefix]).

    Returns:
        ``(model, class_map, config)``.
    """
    path = Path(path)
    stored_map = data.get("class_map")
    if stored_map is not None:
        _check_stored_classes(stored_map, path)
        try:
            stored_map = ClassMap.from_dict(stored_map)
        except ClassMapError as e:
            raise CheckpointError(f"{path}: the stored class map is not valid ({e})") from None
        if class_map is not None and class_map != stored_map:
            _logger.warning("%s: using the file's class map %s, not the one passed", path,
                            stored_map)
        class_map = stored_map
    stored_name = data.get("model_name")
    if stored_name is not None:
        if model_name is not None and model_name != stored_name:
            _logger.warning("%s: using the file's model_name %r, not %r", path, stored_name,
                            model_name)
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
        if size is None:
            continue
        try:
            normalize_img_size(size, where=f"{path}", error=CheckpointError)
        except CheckpointError:
            raise CheckpointError(
                f"{path}: img_size {size} is not a size in 1..{MAX_IMG_SIZE} (EfficientDet's "
                "largest config uses 1536); the file is damaged or was not written by this "
                "library"
            ) from None
    if data.get("num_classes") is not None and int(data["num_classes"]) != len(class_map):
        raise CheckpointError(
            f"{path}: the file says num_classes={data['num_classes']} but its class map has "
            f"{len(class_map)} classes; the file is inconsistent"
        )

    try:
        model = _build_model(data, model_name, len(class_map), img_size)
    except ValueError as e:  # ModelConfigError: an unknown model name, a bad size...
        raise CheckpointError(f"{path}: cannot rebuild the model: {e}") from None
    load_weights(find_network(model), data["state_dict"], path, strict)
    model.to(device).eval()
    return model, class_map, model.config


# -- the two loaders: one read each, dispatched on the layout ---------------------------------
def load_model(
    path: str | Path,
    device: str | torch.device = "cpu",
    *,
    class_map: ClassMap | None = None,
    model_name: str | None = None,
    img_size: int | Sequence[int] | None = None,
):
    """Rebuild the model from a checkpoint file, in eval mode on ``device``: the library's own
    loader (IceVision's, which returns a dict, is
    [`model_from_checkpoint`][efficientdet_adapter.models.checkpoint.model_from_checkpoint]).

    Args:
        path: a [`save_checkpoint`][efficientdet_adapter.checkpoints.checkpoint.save_checkpoint] file,
            an IceVision checkpoint (its ``meta`` is checked
            as this library's own files are), a fastai ``learn.save`` file or a Lightning
            ``ModelCheckpoint`` file.
        device: where to put the model.
        class_map, model_name, img_size: what the engines' files do not hold (ignored, with a
            warning on disagreement, for files that hold them). ``img_size`` defaults to the
            effdet config's size for that model, rounded up to a multiple of 128 (lite0: 384).

    Returns:
        ``(model, class_map, config)``: the ``EfficientDetModel``, its
        [`ClassMap`][efficientdet_adapter.records.class_map.ClassMap] and its
        ``ModelConfig``.

    Example:
        >>> model, class_map, config = load_model("runs/demo/model.pt")
        >>> config.model_name, config.img_size
        ('tf_efficientdet_lite0', (256, 256))
    """
    return model_from_data(load_checkpoint_data(path), path=path, device=device,
                           class_map=class_map, model_name=model_name, img_size=img_size)


def model_from_data(
    data: Mapping[str, Any],
    *,
    path: str | Path,
    device: str | torch.device = "cpu",
    class_map: ClassMap | None = None,
    model_name: str | None = None,
    img_size: int | Sequence[int] | None = None,
):
    """[`load_model`][efficientdet_adapter.checkpoints.checkpoint.load_model] on what
    [`load_checkpoint_data`][efficientdet_adapter.weights.state_dict.load_checkpoint_data] already
    read from ``path`` (for
    callers that also want the file's ``extra``): ``(model, class_map, config)``."""
    if data["layout"] == "icevision":
        fields = icevision_fields(data["meta"], str(path), state=data["state_dict"])
        data = {**data, "model_name": fields.model_name, "img_size": fields.img_size,
                "class_map": fields.class_map.to_dict()}
    return rebuild_model(data, path=path, device=device, class_map=class_map,
                         model_name=model_name, img_size=img_size)


def convert_checkpoint(
    src: str | Path,
    dst: str | Path,
    *,
    class_map: ClassMap | None = None,
    model_name: str | None = None,
    img_size: int | Sequence[int] | None = None,
    extra: Mapping[str, Any] | None = None,
) -> Path:
    """Turn a fastai, Lightning or IceVision file into a
    [`save_checkpoint`][efficientdet_adapter.checkpoints.checkpoint.save_checkpoint] file.

    Example:
        >>> convert_checkpoint("models/model.pth", "model.pt", class_map=class_map,
        ...                    model_name="tf_efficientdet_lite0", img_size=384)
    """
    model, class_map, _ = load_model(src, class_map=class_map, model_name=model_name,
                                     img_size=img_size)
    return save_checkpoint(model, dst, class_map, extra={"converted_from": str(src), **(extra or {})})


def _revise(state: Mapping[str, Any], revise_keys: Sequence[tuple[str, str]], where: str) -> dict:
    out = dict(state)
    for pattern, replacement in revise_keys or ():
        try:
            out = {re.sub(pattern, replacement, k): v for k, v in out.items()}
        except re.error as e:
            raise CheckpointError(f"{where}: revise_keys pattern {pattern!r} is not a regular "
                                  f"expression ({e})") from None
    return out


def checkpoint_and_model(
    filename: str | PathLike,
    model_name: str | None = None,
    backbone_name: str | None = None,
    classes: Sequence[str] | None = None,
    is_coco: bool = False,
    img_size: int | Sequence[int] | None = None,
    map_location: Any = None,
    strict: bool = False,
    revise_keys: Sequence[tuple[str, str]] = ((r"^module\.", ""),),
    eval_mode: bool = True,
    logger: logging.Logger | None = None,
    device: str | torch.device | None = None,
    check_hash: bool = False,
    hash_prefix: str | None = None,
) -> CheckpointAndModel:
    r"""What IceVision 0.12's ``model_from_checkpoint`` returns, but its ``model_type``, which
    the face [`model_from_checkpoint`][efficientdet_adapter.models.checkpoint.model_from_checkpoint]
    fills (the package ``efficientdet``, above this module): the model rebuilt from a file, with
    its class map, always in IceVision's dict
    ([`CheckpointAndModel`][efficientdet_adapter.model.icevision.CheckpointAndModel]), whatever
    the arguments; the library's own tuple comes from
    [`load_model`][efficientdet_adapter.checkpoints.checkpoint.load_model].

    Reads IceVision checkpoints (``meta`` supplies what is not passed), Lightning
    ``ModelCheckpoint`` files, fastai ``learn.save`` files, bare state dicts (effdet's COCO
    weights: ``is_coco=True``) and
        [`save_checkpoint`][efficientdet_adapter.checkpoints.checkpoint.save_checkpoint] files, each
        once; ``filename`` may
    be a URL. Always with ``torch.load(weights_only=True)``.

    Args:
        model_name, backbone_name, classes, img_size: as IceVision's (they win over ``meta``).
        is_coco: IceVision's 80 COCO classes (see
            [`icevision_fields`][efficientdet_adapter.model.icevision.icevision_fields]).
        map_location: ``torch.load``'s, for the tensors in ``loaded["checkpoint"]``.
        strict: every tensor of the network must be in the file; ``False`` (IceVision's
            default) logs the missing ones. A tensor of another shape is always an error.
        revise_keys: ``(pattern, replacement)`` regexes applied to the weights' names first;
            a Lightning ``.ckpt`` loads with ``[(r"^model\.", "")]``. The prefixes the engines
            add (``model.``, ``model.model.``) are found by themselves too.
        eval_mode: ``model.eval()`` (``False``: train mode).
        logger: where warnings go (this module's logger by default).
        device: where to put the model (not IceVision's: its model stayed on the CPU).
        check_hash, hash_prefix: for a URL, as ``torch.hub``: compare the download's SHA-256
            with the ``-<hex>`` in its file name, or with ``hash_prefix`` (downloads are cached
            by a hash of the whole URL, at most 2 GiB; ``file://`` is read in place).

    Example:
        >>> loaded = model_from_checkpoint("epoch=9.ckpt", model_name="ross.efficientdet",
        ...     backbone_name="d0", img_size=512, classes=["a", "b"],
        ...     revise_keys=[(r"^model\.", "")], map_location="cpu")           # doctest: +SKIP
        >>> loaded["model"], loaded["class_map"], loaded["img_size"]            # doctest: +SKIP
    """
    from efficientdet_adapter.model import backbones  # noqa: PLC0415
    from efficientdet_adapter.model.resize import set_img_size  # noqa: PLC0415

    if not is_url(filename):
        path_arg(filename, "filename")
    where = str(filename)
    obj = read_file(local_file(filename, check_hash=check_hash, hash_prefix=hash_prefix),
                    map_location, name=where)  # the one read; everything below dispatches on it
    data = checkpoint_layout(obj, where)
    log = logger or _logger
    if data["layout"] == "adapter":  # this library's own file: its own metadata
        if classes is not None or is_coco:
            log.warning("%s: the file keeps its class map; classes/is_coco are ignored", where)
        model, class_map, config = rebuild_model(data, path=where, device=device or "cpu",
                                                 strict=strict)
        size = img_size if img_size is not None else list(config.img_size)
        fields = IceVisionFields(class_map, config.model_name,
                                 backbone_of(config.model_name, where),
                                 img_size_field(size, where, "img_size"))
        if img_size is not None:
            set_img_size(model, fields.img_size)
    else:
        meta = data.get("meta") if data["layout"] == "icevision" else None
        state = _revise(data["state_dict"], revise_keys, where)
        fields = icevision_fields(meta or {}, where, model_name=model_name,
                                  backbone_name=backbone_name, classes=classes, is_coco=is_coco,
                                  img_size=img_size, state=state, logger=log)
        spec = {"layout": data["layout"], "state_dict": state, "model_name": fields.model_name,
                "class_map": fields.class_map.to_dict(), "img_size": fields.img_size}
        model, class_map, _ = rebuild_model(spec, path=where, device=device or "cpu",
                                            strict=strict)
    if not eval_mode:
        model.train()
    checkpoint = dict(obj) if isinstance(obj, Mapping) else {}
    return CheckpointAndModel(
        model=model,
        model_type=None,  # the face fills it
        backbone=getattr(backbones, fields.backbone_name),
        class_map=class_map,
        img_size=fields.img_size,
        checkpoint=checkpoint or {"state_dict": obj},
        model_name=model_name if model_name is not None else "ross.efficientdet",
        backbone_name=fields.backbone_name,
    )

