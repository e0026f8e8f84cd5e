"""Change a model's input size in place: progressive resizing.

An EfficientDet's weights do not depend on the image size, but three things built from it do:
the anchors (and the labeler over them), the fixed output sizes of the BiFPN's upsampling
layers, and the top-k before NMS (``max_detection_points``).
[`set_img_size`][efficientdet_adapter.model.resize.set_img_size] rebuilds
those for a new size and keeps every parameter (same tensors, so an optimizer that holds them
goes on working). The size changes at a clear point only: this function
(``model.set_img_size``), or the first training batch after ``model.train()`` (which fastai and
Lightning call at each epoch start), which is what IceVision's progressive-resizing recipe
needs: train at 384, swap the loaders for 512 ones (``learn.dls = ...``) and keep training. A
training batch of another size in the middle of an epoch is a BatchError (the transforms
disagree); an eval batch of another size runs at its size for that call only.

Example:
    >>> model = efficientdet.model(model_name="tf_efficientdet_lite0", num_classes=3,
    ...                            img_size=384)                          # doctest: +SKIP
    >>> efficientdet.set_img_size(model, 512); model.config.img_size     # doctest: +SKIP
    (512, 512)
"""

from __future__ import annotations

import dataclasses
import logging
from typing import Any

import torch
from effdet import EfficientDet
from effdet.anchors import AnchorLabeler, Anchors
from effdet.efficientdet import Interpolate2d, ResampleFeatureMap
from torch import nn

from efficientdet_adapter.model.config import NET_KWARGS, effdet_config

__all__ = ["set_img_size", "anchors_not_saved"]

logger = logging.getLogger(__name__)


def anchors_not_saved(anchors: Anchors) -> Anchors:
    """Keep the anchor boxes out of ``state_dict``: they follow from the config and the input
    size (which may change, see
    [`set_img_size`][efficientdet_adapter.model.resize.set_img_size]), and are never
    learned."""
    anchors._non_persistent_buffers_set.add("boxes")
    return anchors


def _size_layers(net: nn.Module) -> list[tuple[str, nn.Module]]:
    return [(n, m) for n, m in net.named_modules()
            if isinstance(m, (Interpolate2d, ResampleFeatureMap))]


def _reference_sizes(cfg: Any, net_kwargs: dict[str, Any]) -> dict[str, tuple]:
    """The size attributes a network built for ``cfg`` has, layer by layer (built on the meta
    device: no memory, no weights)."""
    with torch.device("meta"):
        ref = EfficientDet(cfg, pretrained_backbone=False, **net_kwargs)
    out: dict[str, tuple] = {}
    for name, module in _size_layers(ref):
        if isinstance(module, Interpolate2d):
            out[name] = ("interp", module.size, module.scale_factor)
        else:
            out[name] = ("resample", module.input_size, module.output_size)
    return out


def set_img_size(model: nn.Module, img_size: int | tuple[int, int]) -> None:
    """Make ``model`` (an ``EfficientDetModel``) take ``img_size`` images: ``(height, width)``
    or an int for a square; each side a multiple of the model's stride (128 for most models).

    Raises:
        ModelConfigError: the size is not valid for the model (the message lists valid ones).
    """
    config = model.config
    new_config = dataclasses.replace(config, img_size=img_size)  # validates the size
    if tuple(new_config.img_size) == tuple(config.img_size):
        return
    key = tuple(new_config.img_size)
    cache: dict = model.__dict__.setdefault("_size_cache", {})
    if key not in cache:  # what a size needs, computed once per size
        cfg = effdet_config(new_config)
        net_kwargs = {k: v for k, v in config.effdet_kwargs.items() if k in NET_KWARGS}
        cache[key] = (cfg, _reference_sizes(cfg, net_kwargs), anchors_not_saved(Anchors.from_config(cfg)))
    cfg, sizes, anchors = cache[key]
    for name, module in _size_layers(model.model):
        kind, a, b = sizes[name]
        if kind == "interp":
            module.size, module.scale_factor = a, b
        else:
            module.input_size, module.output_size = a, b
    device = model.anchors.boxes.device
    model.model.config = cfg
    model.effdet_config = cfg
    model.anchors = anchors.to(device)
    model.anchor_labeler = AnchorLabeler(
        model.anchors, cfg.num_classes, match_threshold=model.anchor_labeler.match_threshold
    )
    model.max_detection_points = cfg.max_detection_points
    old = config.img_size
    model.config = new_config
    logger.debug("model input size %dx%d -> %dx%d (HxW)", old[0], old[1], key[0], key[1])
