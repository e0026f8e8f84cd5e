"""A training run's fit with fastai: the learner, the run callbacks, the one-cycle schedule.

What ``efficientdet-adapter train`` (through
[`efficientdet_adapter.app.runs.train_model`][efficientdet_adapter.app.runs.train_model]) runs
with ``--engine fastai``: a learner from [`learn`][efficientdet_adapter.engines.fastai.learn] with
the run callbacks of
[`callbacks`][efficientdet_adapter.engines.fastai.callbacks], ``fit_one_cycle`` (or fastai's
``fine_tune`` in two fits with
``freeze_epochs``, so that a resume can skip into the second), resumed from a ``last.pt`` state.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import nn

from efficientdet_adapter.base.devices import engine_precision
from efficientdet_adapter.base.errors import UsageError
from efficientdet_adapter.training.state import RunTracker
from efficientdet_adapter.base.version_compat import import_fastai_quietly

import_fastai_quietly()

from fastai.callback.progress import ProgressCallback  # noqa: E402
from fastcore.basics import noop  # noqa: E402

from efficientdet_adapter.engines.fastai.callbacks import (EMACallback, EpochLineCallback, FreezeBNStatsCallback,  # noqa: E402
                        NonFiniteLossCallback, RunCallback, load_fastai_train_state)
from efficientdet_adapter.engines.fastai.budget import fit_budget  # noqa: E402
from efficientdet_adapter.engines.fastai.learn import learner  # noqa: E402
from efficientdet_adapter.engines.fastai.loggers import logger_callbacks  # noqa: E402

__all__ = ["fit_run"]


def fit_run(model: nn.Module, train_dl: Any, valid_dl: Any, opts: Any, tracker: RunTracker,
            resume_state: tuple[dict[str, Any], dict[str, torch.Tensor], Any] | None,
            device: str, precision: str, *, lines: bool = False) -> nn.Module:
    """Fit ``model`` as ``opts`` (a ``runs.TrainOptions``) says; returns the model to keep (the
    EMA's with ``opts.ema``).

    Args:
        tracker: the run's state and files.
        resume_state: ``(train_state, weights, last.pt path)`` of the run to continue, or None.
        device: ``cpu`` or ``cuda[:N]``; precision: ``fp32``, ``fp16`` or ``bf16``
            ([`devices`][efficientdet_adapter.base.devices]).
        lines: one printed line per epoch instead of progress bars.

    Raises:
        UsageError: more than one device (the fastai engine trains on one).
    """
    from efficientdet_adapter.metrics import COCOMetric  # noqa: PLC0415

    if opts.devices * opts.num_nodes > 1:
        raise UsageError(f"--devices {opts.devices} --num-nodes {opts.num_nodes}: the fastai engine "
                         "trains on one device; use --engine lightning for multi-GPU (DDP)")
    ema = EMACallback(opts.ema_decay) if opts.ema else None
    run = RunCallback(tracker, seed=opts.seed, ema=ema,
                      total_epochs=opts.epochs + opts.freeze_epochs)
    cbs = [run, NonFiniteLossCallback(tracker), *([ema] if ema else []),
           *([FreezeBNStatsCallback()] if opts.freeze_bn else [])]
    if lines:
        cbs.append(EpochLineCallback(run))
    logger_cbs, closers = logger_callbacks(opts.loggers, tracker.out, opts.to_dict())  # --logger
    cbs += logger_cbs
    learn = learner([train_dl, valid_dl], model, metrics=[COCOMetric()], cbs=cbs)
    if lines:  # our one line per epoch replaces the bar and fastai's printed table rows
        learn.remove_cb(ProgressCallback)
        learn.logger = noop
    learn.dls._device = torch.device(device)  # torch DataLoaders: fastai reads it from here
    to_half = engine_precision(precision, "fastai")  # None, "to_fp16" or "to_bf16"
    if to_half is not None:
        getattr(learn, to_half)()
    if resume_state is not None:
        state, weights, where = resume_state
        load_fastai_train_state(learn, state, weights, ema, where)
    try:
        _fit(learn, opts, run, tracker)
    finally:
        for close in closers:
            close()
    return ema.model if ema is not None else model


def _fit(learn: Any, opts: Any, run: RunCallback, tracker: RunTracker) -> None:
    """``fit_one_cycle``, or fastai's ``fine_tune`` in two fits that a resume can skip into."""
    if opts.freeze_epochs > 0:
        base_lr = opts.lr
        learn.freeze()
        run.epoch_offset = 0
        learn.fit_one_cycle(opts.freeze_epochs, slice(base_lr), pct_start=0.99)
        if not tracker.state.stopped_early:
            base_lr /= 2
            learn.unfreeze()
            run.epoch_offset = opts.freeze_epochs
            if tracker.budget is not None:  # --time: the clock plans and ends the fit
                if tracker.state.epoch == opts.freeze_epochs:  # not resumed past its start
                    tracker.budget.restart(tracker.state.step)
                fit_budget(learn, opts.epochs, slice(base_lr / 100, base_lr), tracker.budget,
                           tracker)
            else:
                learn.fit_one_cycle(opts.epochs, slice(base_lr / 100, base_lr), pct_start=0.3,
                                    div=5.0)
    else:  # one peak lr, or one per parameter group (backbone, FPN, heads)
        lr = opts.lr if opts.backbone_lr_mult == 1 else np.array(opts.group_lrs())
        if tracker.budget is not None:
            fit_budget(learn, opts.epochs, lr, tracker.budget, tracker)
        else:
            learn.fit_one_cycle(opts.epochs, lr)
