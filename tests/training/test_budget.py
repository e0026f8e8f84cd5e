"""The time budget: durations, the epochs a budget gives, and steps measured on a real model."""

from __future__ import annotations

import pytest
import torch

from efficientdet_adapter.training.budget import (EpochCost, apply_budget,
                                                  epochs_for_budget, measure_epoch_cost,
                                                  parse_duration, plan_budget)


@pytest.mark.parametrize("text, seconds", [
    ("600", 600), ("600s", 600), ("10m", 600), ("1h", 3600), ("1h30m", 5400), ("2.5m", 150),
    (" 90S ", 90), ("1d", 86400), (".5h", 1800)])
def test_parse_duration(text, seconds):
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["0", "0s", "-1", "m", "10x", "1h 30m", "", "inf", "nan"])
def test_parse_duration_refuses(text):
    with pytest.raises(ValueError, match="is not a duration above zero: give seconds"):
        parse_duration(text)


@pytest.mark.parametrize("budget, spent, expected", [
    (600, 10, 39),   # 600 - 10 - 4 (final scoring) = 586 s: 39 epochs of 15 s
    (600, 0, 39),    # 596 s
    (100, 0, 6),     # 96 s
    (20, 10, 1),     # nothing fits: one epoch all the same
])
def test_epochs_for_budget(budget, spent, expected):
    cost = EpochCost(step_s=0.5, steps_per_epoch=20, valid_s=4.0, save_s=1.0)
    assert cost.epoch_s == 15.0
    assert epochs_for_budget(budget, cost, spent_s=spent) == expected


@pytest.fixture(scope="module")
def loaders(tmp_path_factory):
    from efficientdet_adapter.records.dataset import Dataset
    from efficientdet_adapter.app.demo import write_demo_dataset
    from efficientdet_adapter.loop import dataloaders
    from efficientdet_adapter.model.model import model as build_model
    from efficientdet_adapter.app.runs import _tfms, load_splits

    data = write_demo_dataset(tmp_path_factory.mktemp("d") / "shapes", num_images=20, seed=2)
    train, valid, _, class_map, _ = load_splits(data)
    torch.manual_seed(0)
    model = build_model(model_name="tf_efficientdet_lite0", num_classes=len(class_map),
                        img_size=128, pretrained_backbone=False)
    train_tfm, valid_tfm = _tfms(model, 128, "flip")
    train_dl = dataloaders.train_dl(Dataset(train, train_tfm), batch_size=4, shuffle=True,
                                    drop_last=True, anchor_labeler=model)
    valid_dl = dataloaders.valid_dl(Dataset(valid, valid_tfm), batch_size=4)
    return model, train_dl, valid_dl


def test_measure_times_real_steps_on_a_copy(loaders):
    model, train_dl, valid_dl = loaders
    before = {k: v.clone() for k, v in model.state_dict().items()}
    was_training = model.training
    cost = measure_epoch_cost(model, train_dl, valid_dl, steps=2)
    assert cost.steps_per_epoch == len(train_dl) == 3  # 14 images, batches of 4, last dropped
    assert cost.step_s > 0 and cost.valid_s > 0 and cost.save_s > 0
    assert cost.epoch_s == pytest.approx(3 * cost.step_s + cost.valid_s + cost.save_s)
    after = model.state_dict()  # the optimizer stepped a copy: the model is untouched
    assert all(torch.equal(before[k], after[k]) for k in before)
    assert model.training == was_training


def test_the_probe_stops_after_its_seconds_or_eight_steps(loaders, monkeypatch):
    """The probe plans only the first epoch: a few seconds of steps (at least two timed), at most
    MEASURED_STEPS, cycling a short loader; two validation batches, not the whole pass."""
    from efficientdet_adapter.loop import steps as engine_steps
    from efficientdet_adapter.training.budget import MEASURED_STEPS, VALID_PROBE_BATCHES

    model, train_dl, valid_dl = loaders
    calls, valid_calls = [], []
    real, real_valid = engine_steps.loss_step, engine_steps.validation_step
    monkeypatch.setattr(engine_steps, "loss_step", lambda *a, **k: calls.append(1) or real(*a, **k))
    monkeypatch.setattr(engine_steps, "validation_step",
                        lambda *a, **k: valid_calls.append(1) or real_valid(*a, **k))
    cost = measure_epoch_cost(model, train_dl, valid_dl, seconds=1e6)
    assert MEASURED_STEPS == 8 and len(calls) == MEASURED_STEPS + 1 > len(train_dl)
    assert len(valid_calls) == min(VALID_PROBE_BATCHES, len(valid_dl)) and VALID_PROBE_BATCHES == 2
    assert cost.step_s > 0
    calls.clear()
    measure_epoch_cost(model, train_dl, valid_dl, seconds=0.0)
    assert len(calls) == 3  # the warm-up and two timed steps


def test_plan_caps_and_says_when_the_budget_is_too_short(loaders):
    import time

    model, train_dl, valid_dl = loaders
    plan = plan_budget(3600, model, train_dl, valid_dl, started=time.perf_counter(),
                       max_epochs=4)
    assert plan.epochs == 4 and plan.capped_by == 4 and not plan.too_short
    assert "(--epochs 4 caps the budget's epochs)" in plan.describe()
    assert plan.to_dict()["epochs"] == 4 and plan.to_dict()["steps_per_epoch"] == 3
    plan = plan_budget(0.5, model, train_dl, valid_dl, started=time.perf_counter())
    assert plan.epochs == 1 and plan.too_short and plan.capped_by is None
    assert "the budget is shorter than one epoch here" in plan.describe()


def test_apply_budget_caps_the_epochs_with_the_frozen_ones(loaders, capsys):
    import time

    from efficientdet_adapter.base.errors import UsageError
    from efficientdet_adapter.app.runs import TrainOptions

    model, train_dl, valid_dl = loaders
    opts = TrainOptions(time=3600, epochs=5, freeze_epochs=2)
    plan = apply_budget(opts, model, train_dl, valid_dl, started=time.perf_counter())
    assert plan.epochs == 7 and opts.epochs == 5  # 2 frozen + 5: the cap holds
    assert plan.clock.total_steps == 21 and plan.clock.max_steps == 21
    assert capsys.readouterr().out.startswith("--time 3600 s: a step takes ~")
    with pytest.raises(UsageError, match="not for multi-device"):
        apply_budget(TrainOptions(time=60, devices=2), model, train_dl, valid_dl,
                     started=time.perf_counter())


def test_tracker_stops_when_the_budget_clock_is_done_and_logs_the_time_used():
    from efficientdet_adapter.records.class_map import ClassMap
    from efficientdet_adapter.training import RunTracker
    from efficientdet_adapter.training.budget_clock import BudgetClock

    tracker = RunTracker(None, ClassMap(["a"]), tensorboard=False)
    tracker.budget = BudgetClock(budget_s=60, steps_per_epoch=3, max_steps=30, reserve_s=0,
                                 step_s=1, overhead_s=1, total_steps=5, spent_s=7.0)
    tracker.state.step = 3
    assert tracker.end_epoch(None, {"AP": 0.1}) is False
    clock = tracker.extra["time_budget"]["clock"]
    assert clock["total_steps"] == 5 and clock["spent_s"] >= 7.0
    tracker.state.step = 5  # the plan's steps are done: the run ends after this epoch
    assert tracker.end_epoch(None, {"AP": 0.05}) is True and tracker.state.stopped_early


def test_tracker_without_a_budget_never_stops_for_time():
    from efficientdet_adapter.records.class_map import ClassMap
    from efficientdet_adapter.training import RunTracker

    tracker = RunTracker(None, ClassMap(["a"]), tensorboard=False)
    for _ in range(3):
        tracker.state.step += 100
        assert tracker.end_epoch(None, {"AP": 0.1}) is False
