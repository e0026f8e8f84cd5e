"""Lightning's side of ``--time``: the one-cycle schedule on the budget's progress, and its end.

`BudgetOneCycleLR` is a step-interval scheduler whose learning rate and (beta1) momentum
follow `one_cycle` at the clock's progress;
`BudgetStop` plans the clock again at each epoch's start and, once the plan's steps are
done, sets ``trainer.should_stop`` (Lightning then validates that epoch and ends the fit).
"""

from __future__ import annotations

import time
from typing import Any

import torch

from efficientdet_adapter.training.budget_clock import BudgetClock, one_cycle
from efficientdet_adapter.training.state import RunTracker
from efficientdet_adapter.engines.lightning.callbacks import pl

__all__ = ["BudgetOneCycleLR", "BudgetStop"]


class BudgetOneCycleLR(torch.optim.lr_scheduler.LRScheduler):
    """One-cycle on ``clock``'s progress; ``last_epoch`` counts the optimizer steps done.

    Args:
        optimizer: the optimizer (its groups' ``lr`` are scaled by their ``lr_scale``, 1 when
            absent).
        clock: the run's budget clock.
        peak: the schedule's peak learning rate.
    """

    def __init__(self, optimizer: torch.optim.Optimizer, clock: BudgetClock, peak: float) -> None:
        self.clock, self.peak = clock, peak
        super().__init__(optimizer)

    def get_lr(self) -> list[float]:
        lr, mom = one_cycle(self.clock.progress(self.last_epoch), self.peak)
        for group in self.optimizer.param_groups:
            if "betas" in group:
                group["betas"] = (mom, *group["betas"][1:])
        return [lr * group.get("lr_scale", 1.0) for group in self.optimizer.param_groups]

    def state_dict(self) -> dict[str, Any]:
        return {k: v for k, v in super().state_dict().items() if k != "clock"}


class BudgetStop(pl.Callback):
    """Plan ``clock`` again at each epoch's start; stop once its steps are done.

    Put it after [`RunCheckpoint`][efficientdet_adapter.engines.lightning.callbacks.RunCheckpoint],
    which counts the steps in ``tracker``.
    """

    def __init__(self, clock: BudgetClock, tracker: RunTracker) -> None:
        self.clock, self.tracker = clock, tracker

    def on_train_epoch_start(self, trainer, pl_module) -> None:
        epochs = self.clock.start_epoch(self.tracker.state.step)
        if epochs is not None and self.tracker.state.epoch == 1 and trainer.is_global_zero:
            print(f"--time: planned again at epoch {self.tracker.state.epoch + 1} from the last "
                  f"epoch's time: {epochs} epochs ({self.clock.total_steps} steps)", flush=True)

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        step = self.tracker.state.step
        self.clock.end_step(step, time.perf_counter())
        if self.clock.finished(step):  # Lightning validates this epoch, then ends the fit
            trainer.should_stop = True
