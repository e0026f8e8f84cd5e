"""A start into a freshly built network: effdet's COCO detector, a checkpoint with its class head
matched by class name, the packaged backbone, or nothing (the choices:
[`start`][efficientdet_adapter.weights.start]).

[`load_start`][efficientdet_adapter.model.transfer.load_start] is the one code path:
``efficientdet.model(weights=...)`` calls it, and
``train --weights`` through ``runs.train_model`` calls that. The network comes in as effdet
initialized it (seeded by the caller), so class-head rows left alone are effdet's own start for
a new class (the prior bias -log(99)).

effdet's class head ends in a convolution with ``anchors x classes`` output channels, channel
``a * C + c`` scoring class ``c`` (0-based foreground) at anchor ``a``;
[`transfer_class_rows`][efficientdet_adapter.model.transfer.transfer_class_rows]
copies, per anchor, the rows of the classes both class maps name.

Example:
    >>> import torch
    >>> file = torch.tensor([10., 11., 20., 21.])   # 2 anchors x (cat, dog)
    >>> fresh = torch.zeros(6)                      # 2 anchors x (dog, bird, cat)
    >>> transfer_class_rows(file, fresh, 2, ["cat", "dog"], ["dog", "bird", "cat"]).tolist()
    [11.0, 0.0, 10.0, 21.0, 0.0, 20.0]
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

import torch

from efficientdet_adapter.records.class_map import ClassMap
from efficientdet_adapter.base.errors import WeightsError
from efficientdet_adapter.weights.start import BACKBONE_UNCHOSEN, Start, Weights, check_weights
from efficientdet_adapter.weights.hub import OFFLINE_ENV, PROBE_TIMEOUT_S, hub_cache_file, hub_reachable
from efficientdet_adapter.weights.loading import WeightsReport, load_backbone_weights, load_detector_weights, match_prefix
from efficientdet_adapter.weights.packaged import packaged_backbone_for
from efficientdet_adapter.weights.state_dict import load_checkpoint_data

if TYPE_CHECKING:  # pragma: no cover
    from torch import nn

__all__ = ["load_start", "backbone_source", "coco_unavailable", "transfer_class_rows",
           "checkpoint_classes"]

logger = logging.getLogger(__name__)

#: Key prefixes of the class head's output convolution (separable configs, then plain ones).
_CLASS_OUT = ("class_net.predict.conv_pw.", "class_net.predict.conv.")


# --- the backbone words -------------------------------------------------------------------------
def backbone_source(value: Any, backbone_name: str) -> Any:
    """What ``pretrained_backbone`` means for
    [`load_backbone_weights`][efficientdet_adapter.weights.loading.load_backbone_weights]:
    ``"auto"``
    the packaged ImageNet backbone of ``backbone_name`` (``False`` when there is none);
    ``"none"``/``"false"``/``"no"`` ``False``; ``"hub"``/``"true"`` ``True``; others as given
    (``"imagenet-lite1"``, a file)."""
    word = value.lower() if isinstance(value, str) else value
    if word == "auto":
        packaged = packaged_backbone_for(backbone_name)
        return packaged.name if packaged is not None else False
    if word in (None, False, "none", "false", "no"):
        return False
    if word in (True, "hub", "true"):
        return True
    return value


def _backbone(net: "nn.Module", weights: str, value: Any, note: str
              ) -> tuple[Start, WeightsReport | None]:
    source = backbone_source(value, net.config.backbone_name)
    if source is False:
        if value == "auto":
            note = "; ".join(filter(None, [note, f"no offline ImageNet backbone for "
                                                  f"{net.config.name}"]))
            logger.warning("no offline pretrained backbone for %s: training from scratch",
                           net.config.name)
        return Start(weights, "none", note=note), None
    report = load_backbone_weights(net, source)
    return Start(weights, "backbone", report.source, note=note), report


# --- COCO -----------------------------------------------------------------------------------------
def coco_unavailable(config: Any) -> str:
    """Why effdet's COCO weights of ``config`` cannot be had now, in words; ``""`` when they are
    in torch hub's cache or the hub answered within `PROBE_TIMEOUT_S` seconds."""
    url = getattr(config, "url", "") or ""
    if not url:
        return f"effdet publishes no COCO weights for {config.name}"
    cached = hub_cache_file(url)
    if cached.is_file() or hub_reachable(url):
        return ""
    return (f"effdet's COCO weights are not in {cached.parent} and {urlparse(url).netloc} gave "
            f"no answer within {PROBE_TIMEOUT_S:g} s (or {OFFLINE_ENV} is set)")


def _coco(net: "nn.Module", weights: str, classes: Sequence[str] | None, note: str = ""
          ) -> tuple[Start, WeightsReport]:
    report = load_detector_weights(net, True)  # the cached file, or downloaded into the cache
    new = tuple(classes) if classes is not None else ()
    return Start(weights, "coco", str(hub_cache_file(net.config.url)), new=new, note=note), report


# --- a checkpoint -------------------------------------------------------------------------------
def checkpoint_classes(data: Mapping[str, Any], path: Path) -> tuple[str, list[str]]:
    """``(effdet model name, foreground class names)`` of a checkpoint read by
    [`load_checkpoint_data`][efficientdet_adapter.weights.state_dict.load_checkpoint_data]: this
    library's or IceVision's.

    Raises:
        WeightsError: another layout (it names no classes, so no row can be matched).
    """
    if data["layout"] == "adapter":
        return str(data.get("model_name")), ClassMap.from_dict(data["class_map"]).foreground
    if data["layout"] == "icevision":  # (its module reads the backbones table: imported on use)
        from efficientdet_adapter.model.icevision import icevision_fields  # noqa: PLC0415

        fields = icevision_fields(data["meta"], str(path), state=data["state_dict"])
        return fields.model_name, fields.class_map.foreground
    raise WeightsError(
        f"{path}: a {data['layout']} file names no classes, so its class head cannot be matched "
        "by class name; start from a model.pt/best.pt/last.pt of this library or an IceVision "
        "checkpoint (checkpoint.convert_checkpoint writes one from this file)")


def transfer_class_rows(from_file: torch.Tensor, fresh: torch.Tensor, anchors: int,
                        file_classes: Sequence[str], classes: Sequence[str]) -> torch.Tensor:
    """``fresh`` (a class-output tensor, ``anchors * len(classes)`` rows first) with, at every
    anchor, each class's rows taken from ``from_file`` (``anchors * len(file_classes)`` rows)
    where ``file_classes`` names the class; other rows stay as they are."""
    out = fresh.detach().clone()
    src = from_file.reshape(anchors, len(file_classes), *from_file.shape[1:])
    dst = out.view(anchors, len(classes), *out.shape[1:])
    row = {name: i for i, name in enumerate(file_classes)}
    for j, name in enumerate(classes):
        if name in row:
            dst[:, j] = src[:, row[name]]
    return out


def _anchors(config: Any) -> int:
    return int(config.num_scales) * len(config.aspect_ratios)


def _from_checkpoint(net: "nn.Module", path: Path, weights: str, classes: Sequence[str] | None,
                     note: str) -> tuple[Start, WeightsReport]:
    data = load_checkpoint_data(path)
    file_model, file_classes = checkpoint_classes(data, path)
    name = net.config.name
    if file_model != name:
        raise WeightsError(f"{path}: a checkpoint of {file_model}, but the model is {name}; train "
                           f"--model {file_model} (model_name={file_model!r}) to start from it")
    if classes is None:
        raise WeightsError(f"{path}: its class head is matched by class name; pass class_map= "
                           "(the new model's classes) with weights=")
    classes = list(classes)
    own = net.state_dict()
    state = match_prefix(data["state_dict"], list(own), path)  # engine prefixes off, all there
    heads = [k for k in own if k.startswith(_CLASS_OUT)]
    rows = int(state[heads[0]].shape[0])
    file_anchors, left = divmod(rows, len(file_classes))
    if left or file_anchors != _anchors(net.config):
        raise WeightsError(
            f"{path}: its class head has {rows} outputs for {len(file_classes)} classes, but "
            f"{name} here has {_anchors(net.config)} anchors per position: the file was trained "
            "with other anchor settings (num_scales, aspect_ratios) or is damaged")
    loaded, differ = {}, []
    for key, slot in own.items():
        tensor = state[key]
        if key in heads:
            tensor = transfer_class_rows(tensor, slot, file_anchors, file_classes, classes)
        if tuple(tensor.shape) != tuple(slot.shape):
            differ.append(f"{key} (file {tuple(tensor.shape)}, model {tuple(slot.shape)})")
        loaded[key] = tensor
    if differ:
        raise WeightsError(f"{path}: {len(differ)} tensors differ from {name}'s, e.g. "
                           f"{'; '.join(differ[:2])}: the file was trained with other model "
                           "settings; start from a checkpoint of the same model")
    net.load_state_dict(loaded)
    kept = tuple(c for c in classes if c in file_classes)
    start = Start(weights, "checkpoint", str(path), kept=kept,
                  new=tuple(c for c in classes if c not in file_classes),
                  dropped=tuple(c for c in file_classes if c not in classes), note=note)
    return start, WeightsReport("detector", f"checkpoint {path}", len(own),
                                tuple(heads) if start.new else (), ())


# --- the one entry --------------------------------------------------------------------------------
def load_start(net: "nn.Module", weights: Weights, *, pretrained_backbone: Any = "auto",
               classes: Sequence[str] | None = None) -> tuple[Start, WeightsReport | None]:
    """Load the start ``weights`` names into the effdet network ``net`` (as effdet built it).

    Args:
        net: the bare network (``model.model`` of a bench).
        weights: ``"auto"``, ``"coco"``, ``"none"``, a checkpoint file or a run folder (see
            [`efficientdet_adapter.weights.start`][efficientdet_adapter.weights.start]).
        pretrained_backbone: with ``"auto"``, a backbone choice other than ``"auto"`` (or
            ``False``) is the start, as ``train --pretrained-backbone`` always was.
        classes: the model's foreground class names, in order (needed for a checkpoint).

    Returns:
        ``(start, report)``: the [`Start`][efficientdet_adapter.weights.start.Start] record and the
        [`WeightsReport`][efficientdet_adapter.weights.loading.WeightsReport] (``None`` when nothing
        was loaded).

    Raises:
        WeightsError: see [`check_weights`][efficientdet_adapter.weights.start.check_weights]; COCO weights
            that
            cannot be had (``"coco"``); a checkpoint of another model, without classes, or
            with other anchors.
    """
    choice = check_weights(weights, pretrained_backbone)
    asked = str(weights)
    if choice == "none":
        return Start(asked, "none"), None
    if choice == "coco":
        return _coco(net, asked, classes)
    if isinstance(choice, Path):
        note = f"run folder {weights}: its {choice.name}" if Path(weights).is_dir() else ""
        return _from_checkpoint(net, choice, asked, classes, note)
    if pretrained_backbone not in BACKBONE_UNCHOSEN:  # auto, with a backbone named
        return _backbone(net, asked, pretrained_backbone,
                         f"pretrained_backbone {pretrained_backbone}")
    reason = coco_unavailable(net.config)
    if not reason:
        try:
            return _coco(net, asked, classes)
        except WeightsError as e:  # a download cut off, a damaged cached file: fall back, say so
            reason = f"effdet's COCO weights failed: {str(e).split('. ')[0]}"
    return _backbone(net, asked, "auto", reason)
