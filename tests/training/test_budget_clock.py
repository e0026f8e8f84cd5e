"""The ``--time`` clock: steps that fit, re-plans that keep the schedule's progress, one-cycle."""

from __future__ import annotations

import pytest
import torch

from efficientdet_adapter.training.budget_clock import BudgetClock, one_cycle


def clock(**kw) -> BudgetClock:
    args = {"budget_s": 100.0, "steps_per_epoch": 10, "max_steps": 1000, "reserve_s": 0.0,
            "step_s": 1.0, "overhead_s": 2.0, "started": 0.0}
    return BudgetClock(**{**args, **kw})


@pytest.mark.parametrize("seconds, steps", [
    (0, 0), (2.9, 0),  # not even a step and its epoch's validation
    (3.0, 1), (11.9, 9), (12.0, 10),  # a partial epoch: its steps and then 2 s of validation
    (14.9, 10), (15.0, 11), (24.0, 20), (100.0, 82),  # 8 epochs of 12 s, 2 steps
])
def test_steps_that_fit(seconds, steps):
    assert clock().steps_that_fit(seconds) == steps


def test_plan_is_capped_and_takes_at_least_one_more_step():
    assert clock(max_steps=30).plan(0, now=0.0) == 30
    late = clock()
    assert late.plan(5, now=99.0) == 6  # time is up: one more step ends the schedule
    assert late.progress(5) == 1.0


def test_a_replan_keeps_the_progress_reached_and_ends_at_one():
    c = clock()
    c.start_epoch(0, now=0.0)
    first = [c.progress(i) for i in range(10)]
    c.end_step(10, now=20.0)  # two seconds a step, not one
    assert c.start_epoch(10, now=24.0) is not None  # fewer epochs now: said
    assert c.step_s == 2.0 and c.overhead_s == 4.0
    assert c.progress(10) == pytest.approx(first[-1] + (first[1] - first[0]))  # no jump
    assert c.progress(c.total_steps - 1) == 1.0 and c.finished(c.total_steps)
    # 76 s left: 3 epochs of 24 s end 4 s early; one more step and its validation 2 s late
    assert c.total_steps == 41 and c.epochs == 5


@pytest.mark.parametrize("seconds, steps", [(13.0, 10), (14.0, 11), (24.0, 20), (15.5, 11)])
def test_steps_nearest_adds_a_step_that_ends_closer_after(seconds, steps):
    assert clock().steps_nearest(seconds) == steps


def test_the_clock_round_trips_through_a_checkpoint_and_counts_the_earlier_time():
    c = clock()
    c.start_epoch(0, now=0.0)
    saved = c.to_dict(now=30.0)
    assert saved["spent_s"] == 30.0 and "started" not in saved
    again = BudgetClock.from_dict(saved, started=500.0)
    assert again.elapsed(now=505.0) == 35.0
    assert again.total_steps == c.total_steps and again.progress(7) == c.progress(7)


@pytest.mark.parametrize("total", [8, 40, 101])
def test_one_cycle_matches_fastais_fit_one_cycle_and_ends_on_its_final_value(total):
    from fastai.callback.schedule import combined_cos

    peak = 5e-3
    lr = combined_cos(0.25, peak / 25, peak, peak / 1e5)
    mom = combined_cos(0.25, 0.95, 0.85, 0.95)
    for i in range(total):
        p = i / (total - 1)
        assert one_cycle(p, peak) == pytest.approx((float(lr(p)), float(mom(p))), rel=1e-5)  # fastai computes in float32
    assert one_cycle(1.0, peak) == pytest.approx((peak / 1e5, 0.95), rel=1e-9)


def test_lightning_scheduler_follows_the_clock_and_ends_annealed():
    from efficientdet_adapter.engines.lightning.budget import BudgetOneCycleLR

    c = clock(max_steps=12)
    c.start_epoch(0, now=0.0)
    opt = torch.optim.AdamW([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
    sched = BudgetOneCycleLR(opt, c, peak=1e-2)
    seen = []
    for _ in range(12):
        seen.append((opt.param_groups[0]["lr"], opt.param_groups[0]["betas"][0]))
        opt.step()
        sched.step()
    assert seen[0] == pytest.approx(one_cycle(0.0, 1e-2))
    assert seen[-1] == pytest.approx(one_cycle(1.0, 1e-2)) and seen[-1][0] == pytest.approx(1e-7)
    assert "clock" not in sched.state_dict()
