"""fastai's side of ``--time``: the one-cycle schedule on the budget's progress, and its end.

`BudgetScheduler` is fastai's ``ParamScheduler`` with the position in the schedule read
from the run's `BudgetClock` instead of the
share of ``n_epoch`` done; it plans the clock again at each epoch's start, and ends the training
part of an epoch (validation still runs) once the plan's steps are done. `fit_budget` is
``fit_one_cycle`` with it: the same curves (fastai's ``combined_cos``), ``n_epoch`` only a cap.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from efficientdet_adapter.training.budget_clock import ONE_CYCLE, BudgetClock
from efficientdet_adapter.training.state import RunTracker
from efficientdet_adapter.base.version_compat import import_fastai_quietly

import_fastai_quietly()

from fastai.callback.core import CancelTrainException  # noqa: E402
from fastai.callback.schedule import ParamScheduler, combined_cos  # noqa: E402

__all__ = ["BudgetScheduler", "fit_budget"]


class BudgetScheduler(ParamScheduler):
    """``ParamScheduler`` on the budget's progress (see the module docstring).

    Args:
        scheds: fastai's schedules by hyper-parameter name (``lr``, ``mom``).
        clock: the run's budget clock.
        tracker: the run's tracker, whose optimizer-step count places each step.
    """

    def __init__(self, scheds: dict[str, Any], clock: BudgetClock, tracker: RunTracker) -> None:
        super().__init__(scheds)
        self.clock, self.tracker = clock, tracker

    def before_train(self) -> None:
        epochs = self.clock.start_epoch(self.tracker.state.step)
        if epochs is not None and self.tracker.state.epoch == 1:  # the first epoch measured
            print(f"--time: planned again at epoch {self.tracker.state.epoch + 1} from the last "
                  f"epoch's time: {epochs} epochs ({self.clock.total_steps} steps)", flush=True)

    def before_batch(self) -> None:
        if not self.training:
            return
        step = self.tracker.state.step
        if self.clock.finished(step):  # the plan's steps are done: validate and end
            raise CancelTrainException
        self._update_val(self.clock.progress(step))

    def after_batch(self) -> None:
        super().after_batch()
        if self.training:
            self.clock.end_step(self.tracker.state.step, time.perf_counter())


def fit_budget(learn: Any, n_epoch: int, lr_max: Any, clock: BudgetClock,
               tracker: RunTracker, cbs: Any = None) -> None:
    """``learn.fit_one_cycle(n_epoch, lr_max)`` whose schedule follows ``clock`` and which ends
    when the clock's plan is done (``n_epoch`` is then only the most epochs)."""
    if learn.opt is None:
        learn.create_opt()
    learn.opt.set_hyper("lr", learn.lr if lr_max is None else lr_max)
    peak = np.array([h["lr"] for h in learn.opt.hypers])
    pct = ONE_CYCLE["pct_start"]
    scheds = {"lr": combined_cos(pct, peak / ONE_CYCLE["div"], peak, peak / ONE_CYCLE["div_final"]),
              "mom": combined_cos(pct, *ONE_CYCLE["moms"])}
    learn.fit(n_epoch, cbs=[BudgetScheduler(scheds, clock, tracker), *(cbs or [])])
