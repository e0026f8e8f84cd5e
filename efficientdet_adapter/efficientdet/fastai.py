"""IceVision's ``efficientdet.fastai``: train an EfficientDet with fastai,
``efficientdet.fastai.learner(dls, model, metrics=...)``.

The engine lives in [`efficientdet_adapter.engines.fastai`][efficientdet_adapter.engines.fastai]
(the learner in
[`learn`][efficientdet_adapter.engines.fastai.learn], the sync-free optimizer, mixed precision and
progress bar in [`steps`][efficientdet_adapter.engines.fastai.steps]); this module keeps IceVision's
name for it.

Example:
    >>> learn = efficientdet.fastai.learner(dls=[train_dl, valid_dl], model=model,
    ...                                     metrics=[COCOMetric()])              # doctest: +SKIP
    >>> learn.fine_tune(10, 1e-2, freeze_epochs=1)                               # doctest: +SKIP
"""

from __future__ import annotations

from efficientdet_adapter.engines.fastai.learn import (
    EfficientDetCallback,
    EfficientDetLearner,
    FusedAdam,
    MetricColumn,
    TorchDataLoaders,
    fastai_metrics,
    learner,
    loss_func,
)

__all__ = [
    "EfficientDetCallback",
    "EfficientDetLearner",
    "FusedAdam",
    "MetricColumn",
    "TorchDataLoaders",
    "fastai_metrics",
    "learner",
    "loss_func",
]
