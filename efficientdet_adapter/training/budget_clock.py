"""The clock of a ``--time`` run: the optimizer steps that fit the budget, re-planned each epoch.

A probe of a few seconds (`measure_epoch_cost`) gives a first estimate of a step
and of an epoch's validation; that estimate was about 10% optimistic on the pothole export (the
probe's steps ran faster than the loop's), so a plan fixed before the first epoch stopped an
epoch short, its learning rate not annealed. `BudgetClock` instead plans in optimizer
*steps* and plans again at the start of every epoch, from the seconds the last epoch really took
(its training steps, and what came after them: validation, metrics, checkpoints). The last epoch
may be cut short: it trains the steps that still fit, then validates.

The learning-rate schedule follows the plan's *progress*, a number from 0 (the first step) to
1 (the last planned step): `BudgetClock.progress`. A re-plan keeps the progress already
reached and stretches or shrinks the rest, so the schedule never jumps and always ends on its
final value at the last step. `one_cycle` is the one-cycle curve on that progress.

Example:
    >>> clock = BudgetClock(budget_s=100, steps_per_epoch=10, max_steps=1000, reserve_s=2,
    ...                     step_s=1.0, overhead_s=3.0, started=0.0)
    >>> clock.start_epoch(step=0, now=0.0)  # 98 s: 7 epochs of 13 s, 4 steps, validation
    >>> clock.total_steps, clock.epochs, clock.progress(0), clock.progress(73)
    (74, 8, 0.0, 1.0)
    >>> clock.end_step(10, now=15.0)  # the first epoch's 10 steps took 15 s, not 10
    >>> clock.start_epoch(step=10, now=20.0)  # planned again: 5 epochs now, the last 9 steps
    5
    >>> clock.total_steps, round(clock.progress(10), 4), clock.progress(48)
    (49, 0.137, 1.0)
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, field
from typing import Any

__all__ = ["BudgetClock", "one_cycle", "ONE_CYCLE"]

#: The one-cycle curve's shape, as fastai's ``fit_one_cycle`` and torch's ``OneCycleLR`` default
#: it: warm-up share, start and end divisors of the peak, and (beta1) momentum at start, peak, end.
ONE_CYCLE = {"pct_start": 0.25, "div": 25.0, "div_final": 1e5, "moms": (0.95, 0.85, 0.95)}


def _cos(start: float, end: float, pos: float) -> float:
    return start + (1 + math.cos(math.pi * (1 - pos))) * (end - start) / 2


def one_cycle(progress: float, peak: float, *, pct_start: float = ONE_CYCLE["pct_start"],
              div: float = ONE_CYCLE["div"], div_final: float = ONE_CYCLE["div_final"],
              moms: tuple[float, float, float] = ONE_CYCLE["moms"]) -> tuple[float, float]:
    """``(lr, momentum)`` at ``progress`` (0 to 1) of a one-cycle schedule peaking at ``peak``:
    cosine from ``peak / div`` up to ``peak`` over ``pct_start``, then down to
    ``peak / div_final`` (fastai's ``combined_cos``); momentum the other way.

    Example:
        >>> [round(one_cycle(p, 1.0)[0], 8) for p in (0.0, 0.25, 1.0)]
        [0.04, 1.0, 1e-05]
    """
    p = min(max(progress, 0.0), 1.0)
    if p < pct_start:
        pos = p / pct_start
        return _cos(peak / div, peak, pos), _cos(moms[0], moms[1], pos)
    pos = (p - pct_start) / (1 - pct_start) if pct_start < 1 else 1.0
    return _cos(peak, peak / div_final, pos), _cos(moms[1], moms[2], pos)


@dataclass
class BudgetClock:
    """The steps a ``--time`` budget fits, planned again at each epoch's start.

    Attributes:
        budget_s: the budget, in seconds from the run's start (start-up and probe included).
        steps_per_epoch: optimizer steps in a whole epoch.
        max_steps: the most steps (``--epochs`` times ``steps_per_epoch``).
        reserve_s: seconds kept back at the end, for the final scoring of the best weights.
        step_s: estimated seconds of one training step (the probe's, then the last epoch's).
        overhead_s: estimated seconds an epoch spends after its steps (validation, metrics,
            checkpoints, the next epoch's start).
        total_steps: the plan: the run ends after this many optimizer steps.
        anchor_step, anchor_pct: the progress reached at the last re-plan, kept by the next one.
        spent_s: budget seconds used before this process (a resumed run's earlier part).
        started: this process's ``time.perf_counter()`` at the run's start.
        replans: how many times the plan was made.
    """

    budget_s: float
    steps_per_epoch: int
    max_steps: int
    reserve_s: float
    step_s: float
    overhead_s: float
    total_steps: int = 0
    anchor_step: int = 0
    anchor_pct: float = 0.0
    spent_s: float = 0.0
    started: float = field(default_factory=time.perf_counter)
    replans: int = 0
    _train_start: float | None = field(default=None, repr=False)
    _train_step0: int = field(default=0, repr=False)
    _last_step_end: float | None = field(default=None, repr=False)
    _last_step: int = field(default=0, repr=False)

    # -- time ----------------------------------------------------------------------------------
    def elapsed(self, now: float | None = None) -> float:
        """Budget seconds used so far (an earlier, resumed part of the run included)."""
        return self.spent_s + (time.perf_counter() if now is None else now) - self.started

    @property
    def epochs(self) -> int:
        """The epochs of the current plan (the last one may be shorter)."""
        return max(1, math.ceil(self.total_steps / self.steps_per_epoch))

    # -- the plan -------------------------------------------------------------------------------
    def steps_that_fit(self, seconds: float) -> int:
        """Training steps that fit ``seconds`` from an epoch's start, each epoch (the last,
        shorter one too) followed by `overhead_s`."""
        n, step, over = self.steps_per_epoch, max(self.step_s, 1e-9), max(self.overhead_s, 0.0)
        epoch_s = n * step + over
        full = max(0, int(seconds // epoch_s))
        rest = seconds - full * epoch_s
        part = min(n - 1, max(0, int((rest - over) // step)))
        return full * n + part

    def seconds_of(self, steps: int) -> float:
        """Estimated seconds of ``steps`` training steps from an epoch's start, with the
        validation (and the rest, `overhead_s`) of every epoch they touch."""
        epochs = math.ceil(steps / self.steps_per_epoch)
        return steps * self.step_s + epochs * self.overhead_s

    def steps_nearest(self, seconds: float) -> int:
        """The steps whose end is nearest to ``seconds`` from an epoch's start: those that fit
        (`steps_that_fit`), or one more when it ends closer after ``seconds`` than they
        end before it (a new epoch's validation can leave more than a step unused)."""
        fit = self.steps_that_fit(seconds)
        under = seconds - self.seconds_of(fit)
        over = self.seconds_of(fit + 1) - seconds
        return fit + 1 if over < under else fit

    def plan(self, step: int, now: float | None = None) -> int:
        """Fit `total_steps` to what is left of the budget at ``step`` (an epoch's start),
        keeping the progress reached; at least one more step, at most `max_steps`. The
        last epoch ends as near as the steps allow to the budget less `reserve_s`."""
        now = time.perf_counter() if now is None else now
        if self.total_steps:  # the schedule goes on from where it is
            self.anchor_pct = self.progress(step)
        self.anchor_step = step
        left = self.budget_s - self.reserve_s - self.elapsed(now)
        self.total_steps = max(step + 1, min(self.max_steps, step + self.steps_nearest(left)))
        self.replans += 1
        return self.total_steps

    def restart(self, step: int) -> None:
        """Start a new schedule at ``step`` (fastai's ``fine_tune``: the unfrozen fit after the
        frozen one); the next `start_epoch` plans it."""
        self.total_steps, self.anchor_step, self.anchor_pct = 0, step, 0.0

    def progress(self, step: int) -> float:
        """Where optimizer step ``step`` (0-based: the steps done before it) is in the
        schedule: 0 at the first step, 1 at the last planned one."""
        left = self.total_steps - 1 - self.anchor_step
        if left <= 0:
            return 1.0
        p = self.anchor_pct + (step - self.anchor_step) * (1 - self.anchor_pct) / left
        return min(max(p, 0.0), 1.0)

    def finished(self, step: int) -> bool:
        """Whether ``step`` optimizer steps are all the plan has."""
        return step >= self.total_steps

    # -- measurements, from the engines' callbacks -----------------------------------------------
    def start_epoch(self, step: int, now: float | None = None) -> int | None:
        """An epoch's training starts at ``step``: learn the last epoch's step and overhead
        seconds from what it really took, and plan again; returns the new plan's epochs when
        they changed (for a line), else ``None``."""
        now = time.perf_counter() if now is None else now
        before = self.epochs if self.total_steps else None
        if self._train_start is not None and self._last_step_end is not None \
                and self._last_step > self._train_step0:
            self.step_s = (self._last_step_end - self._train_start) / \
                (self._last_step - self._train_step0)
            self.overhead_s = max(0.0, now - self._last_step_end)
        self.plan(step, now)
        self._train_start, self._train_step0 = now, step
        self._last_step_end, self._last_step = None, step
        return self.epochs if before is not None and self.epochs != before else None

    def end_step(self, step: int, now: float | None = None) -> None:
        """Optimizer step ``step`` (the run's count after it) has ended."""
        self._last_step_end = time.perf_counter() if now is None else now
        self._last_step = step

    # -- checkpoints -----------------------------------------------------------------------------
    def to_dict(self, now: float | None = None) -> dict[str, Any]:
        """Plain data for checkpoints; ``spent_s`` is the budget used by ``now``."""
        data = {k: v for k, v in asdict(self).items() if not k.startswith("_") and k != "started"}
        data["spent_s"] = round(self.elapsed(now), 3)
        return {k: round(v, 4) if isinstance(v, float) else v for k, v in data.items()}

    @classmethod
    def from_dict(cls, data: dict[str, Any], started: float | None = None) -> BudgetClock:
        """A clock that goes on from a checkpoint's `to_dict`, started at ``started``."""
        names = {"budget_s", "steps_per_epoch", "max_steps", "reserve_s", "step_s", "overhead_s",
                 "total_steps", "anchor_step", "anchor_pct", "spent_s", "replans"}
        return cls(**{k: v for k, v in data.items() if k in names},
                   started=time.perf_counter() if started is None else started)
