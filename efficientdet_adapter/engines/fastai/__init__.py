"""IceVision's ``engines.fastai`` (and this library's fastai engine:
[`learn`][efficientdet_adapter.engines.fastai.learn],
[`steps`][efficientdet_adapter.engines.fastai.steps],
[`callbacks`][efficientdet_adapter.engines.fastai.callbacks],
[`fit`][efficientdet_adapter.engines.fastai.fit]): turn ``train_dl``/``valid_dl`` into fastai
``DataLoaders``.

IceVision's progressive-resizing recipe swaps a learner's data: ``learn.dls =
convert_dataloaders_to_fastai(dls)``. The model follows the new image size by itself (see
``EfficientDetModel.set_img_size``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from efficientdet_adapter.engines.fastai.learn import TorchDataLoaders
from efficientdet_adapter.base.errors import ArgumentError

__all__ = ["convert_dataloader_to_fastai", "convert_dataloaders_to_fastai"]

#: IceVision 0.12's names of ``icevision.engines.fastai`` not offered here, and why.
NOT_OFFERED: dict[str, str] = dict.fromkeys(
    ["FastaiMetricAdapter", "adapted_fastai_learner"],
    "efficientdet.fastai.learner(dls, model, metrics=[COCOMetric()]) adapts metrics and builds "
    "the learner itself")


def convert_dataloader_to_fastai(dataloader: Any) -> Any:
    """A loader fastai's learner can use: ours already are (fastai iterates torch loaders)."""
    return dataloader


def convert_dataloaders_to_fastai(dls: Sequence[Any], device: Any = None) -> TorchDataLoaders:
    """``[train_dl, valid_dl]`` -> a fastai ``DataLoaders``, as ``efficientdet.fastai.learner``
    builds it, ready for ``learn.dls = ...``."""
    loaders = list(dls)
    if len(loaders) != 2:
        raise ArgumentError(f"dls must be [train_dl, valid_dl]; got {len(loaders)} loaders")
    return TorchDataLoaders(*loaders, device=device)
