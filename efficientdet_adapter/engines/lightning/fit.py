"""A training run's fit with Lightning: the adapter with AdamW and one-cycle, the run callbacks.

What ``efficientdet-adapter train --engine lightning`` (through
[`efficientdet_adapter.app.runs.train_model`][efficientdet_adapter.app.runs.train_model]) runs: a
``ModelAdapter`` ([`adapter`][efficientdet_adapter.engines.lightning.adapter]) whose
``configure_optimizers`` is AdamW (fused on a GPU) under ``OneCycleLR``, a ``Trainer`` with the
run callbacks of [`callbacks`][efficientdet_adapter.engines.lightning.callbacks] (DDP when ``devices
* num_nodes > 1``), resumed from
Lightning's own checkpoint dict kept in ``last.pt``.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from efficientdet_adapter.base.atomic import atomic_torch_save
from efficientdet_adapter.base.devices import engine_precision
from efficientdet_adapter.base.errors import UsageError
from efficientdet_adapter.training.interrupts import Terminated
from efficientdet_adapter.training.state import RunTracker
from efficientdet_adapter.loop.steps import one_cycle_pct_start
from efficientdet_adapter.engines.lightning.adapter import model_adapter_class
from efficientdet_adapter.engines.lightning.budget import BudgetOneCycleLR, BudgetStop
from efficientdet_adapter.model.model import param_groups
from efficientdet_adapter.engines.lightning.callbacks import (EpochLine, FreezeBNStats, LightningEMA, NonFiniteLoss, RunCheckpoint,
                        pl)
from efficientdet_adapter.engines.lightning.loggers import lightning_loggers

__all__ = ["fit_run"]


def fit_run(model: nn.Module, train_dl: Any, valid_dl: Any, opts: Any, tracker: RunTracker,
            resume_state: tuple[dict[str, Any], dict[str, torch.Tensor], Any] | None,
            device: str, precision: str, *, lines: bool = False) -> nn.Module:
    """Fit ``model`` as ``opts`` (a ``runs.TrainOptions``) says; returns the model to keep (the
    EMA's with ``opts.ema``). The arguments are those of
    [`efficientdet_adapter.engines.fastai.fit.fit_run`][efficientdet_adapter.engines.fastai.fit.fit_run].

    Raises:
        UsageError: ``opts.freeze_epochs`` (fastai's ``fine_tune``), or a ``last.pt`` that holds
            no Lightning state.
    """
    from efficientdet_adapter.metrics import COCOMetric  # noqa: PLC0415

    if opts.freeze_epochs > 0:
        raise UsageError(f"--freeze-epochs {opts.freeze_epochs}: fastai's fine_tune; with "
                         "--engine lightning use --freeze-epochs 0")

    class _Light(model_adapter_class(pl)):
        def configure_optimizers(self):
            steps = max(1, int(self.trainer.estimated_stepping_batches))
            # fused on a GPU: one kernel for all parameters, and GradScaler (16-mixed) then
            # unscales and skips inf steps on the device instead of reading them every step
            # one group per part (backbone, FPN, heads): --backbone-lr-mult scales the first
            lrs = opts.group_lrs()
            groups = [{"params": params, "lr": lr, "lr_scale": lr / opts.lr}
                      for params, lr in zip(param_groups(self.model), lrs)]
            opt = torch.optim.AdamW(groups, lr=opts.lr, weight_decay=0.01,
                                    fused=self.device.type == "cuda")
            if tracker.budget is not None:  # --time: the schedule follows the budget's clock
                sched = BudgetOneCycleLR(opt, tracker.budget, opts.lr)
            else:
                sched = torch.optim.lr_scheduler.OneCycleLR(
                    opt, max_lr=lrs, total_steps=steps, pct_start=one_cycle_pct_start(steps))
            return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "step"}}

    ema = LightningEMA(opts.ema_decay) if opts.ema else None
    run = RunCheckpoint(tracker, seed=opts.seed, ema=ema, dataset=train_dl.dataset)
    callbacks = [run, NonFiniteLoss(tracker), *([ema] if ema else []),
                 *([FreezeBNStats()] if opts.freeze_bn else []),
                 *([BudgetStop(tracker.budget, tracker)] if tracker.budget is not None else []),
                 *([EpochLine(run, opts.epochs)] if lines else [])]
    loggers = lightning_loggers(opts.loggers, tracker.out, pl)  # --logger
    world = opts.devices * opts.num_nodes
    accelerator = "cpu" if device == "cpu" else ("gpu" if device.startswith("cuda") else "auto")
    trainer = pl.Trainer(
        max_epochs=opts.epochs, accelerator=accelerator, devices=opts.devices,
        num_nodes=opts.num_nodes, strategy="ddp" if world > 1 else "auto",
        # without --logger the RunTracker writes TensorBoard (both engines alike)
        precision=engine_precision(precision, "lightning"), logger=loggers or False,
        enable_checkpointing=False,
        enable_model_summary=False, callbacks=callbacks, num_sanity_val_steps=0,
        enable_progress_bar=not lines, log_every_n_steps=1,
    )
    ckpt_path = None
    if resume_state is not None:
        state = resume_state[0]
        if not state.get("lightning"):
            raise UsageError("--resume: this last.pt holds no Lightning training state (written "
                             "by another engine?); resume with the engine that wrote it")
        ckpt_path = atomic_torch_save(state["lightning"], tracker.out / ".resume.ckpt")
    try:
        trainer.fit(_Light(model, metrics=[COCOMetric()]), train_dl, valid_dl,
                    ckpt_path=None if ckpt_path is None else str(ckpt_path))
    except SystemExit:
        if trainer.interrupted:  # Lightning ends a Ctrl-C with sys.exit(1): say how to resume
            if getattr(trainer, "received_sigterm", False):  # its handler saw SIGTERM first
                raise Terminated("stopped by SIGTERM") from None
            raise KeyboardInterrupt from None
        raise
    finally:
        if ckpt_path is not None and trainer.is_global_zero:
            ckpt_path.unlink(missing_ok=True)
    if world > 1 and torch.distributed.is_initialized():
        # DDP ends with the fit: rank 0 then scores and plots alone (a metric that still saw a
        # process group would wait for ranks that have left)
        torch.distributed.barrier()
        torch.distributed.destroy_process_group()
    return ema.model if ema is not None else model
