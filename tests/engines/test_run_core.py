"""engines.core: the run core both engines' callbacks call (EMA, non-finite guard, epoch line,
run recorder, the test-only signal hook)."""

from __future__ import annotations

import math
import signal

import pytest
import torch

from efficientdet_adapter.engines.core import (NonFiniteGuard, RunRecorder, StepPlace,
                                               WeightAverage, format_epoch_line,
                                               non_finite_message, signal_at_step)
from efficientdet_adapter.base.errors import TrainingError
from efficientdet_adapter.training.state import RunTracker


@pytest.mark.parametrize("row, total, expected", [
    ({"epoch": 2, "train_loss": 1.5, "lr": 0.001, "best": True}, 10,
     "epoch 2/10  train_loss 1.5000  lr 1.00e-03  *best*"),
    ({"epoch": 1, "valid_loss": 0.25, "AP (IoU=0.50:0.95) area=all": 0.125,
      "AP (IoU=0.50) area=all": 0.5, "seconds": 3.14, "best": False}, None,
     "epoch 1  valid_loss 0.2500  AP 0.1250  AP50 0.5000  3.1 s"),
    ({"epoch": 3, "train_loss": None, "lr": None}, 3, "epoch 3/3"),
])
def test_the_epoch_line(row, total, expected):
    assert format_epoch_line(row, total) == expected


def test_the_non_finite_message_names_the_batch_and_what_was_kept(tmp_path):
    place = StepPlace(epoch=2, step=7, batch=3, lr=0.0125)
    assert non_finite_message(float("nan"), place) == (
        "training loss is nan in epoch 2, step 7 (batch 3 of the epoch) at learning rate "
        "0.0125; lower --lr, check the boxes of the data, or train with --precision 32")
    tracker = RunTracker(tmp_path, None, tensorboard=False)
    tracker.state.epoch = 1
    assert f"; {tmp_path / 'last.pt'} keeps epoch 1;" in non_finite_message(math.inf, place,
                                                                             tracker)
    no_lr = non_finite_message(math.inf, StepPlace(1, 1, 1, None))
    assert "at learning rate ?;" in no_lr


def test_the_guard_raises_at_the_first_non_finite_loss():
    guard = NonFiniteGuard()
    guard.push(torch.tensor(1.0), StepPlace(1, 1, 1, 1e-3))
    with pytest.raises(TrainingError, match=r"^training loss is inf in epoch 1, step 2 \(batch 2"):
        guard.push(torch.tensor(math.inf), StepPlace(1, 2, 2, 1e-3))


def _model():
    from efficientdet_adapter.efficientdet import model

    torch.manual_seed(0)
    return model(model_name="tf_efficientdet_lite0", num_classes=2, img_size=128,
                 pretrained_backbone=False)


def _weights(model) -> dict[str, torch.Tensor]:
    from efficientdet_adapter.model.wrappers import find_network

    return {k: v.clone() for k, v in find_network(model).state_dict().items()}


def test_the_weight_average_swaps_in_and_out_and_round_trips():
    pytest.importorskip("timm")
    model = _model()
    average = WeightAverage(decay=0.5)
    average.ensure(model)
    raw = _weights(model)
    for _ in range(3):  # timm's warm-up copies the first step; later ones average
        with torch.no_grad():
            for p in model.parameters():
                p.add_(1.0)
        average.update(model)
    assert average.updates == 3
    trained, averaged = _weights(model), _weights(average.model)
    key = next(k for k in raw if raw[k].is_floating_point() and k.endswith("weight"))
    assert not torch.equal(averaged[key], trained[key])
    assert not torch.equal(averaged[key], raw[key])
    average.swap_in(model)
    torch.testing.assert_close(_weights(model), averaged)
    average.swap_out(model)
    torch.testing.assert_close(_weights(model), trained)

    other = WeightAverage(decay=0.5)
    other.load_state_dict(average.state_dict())  # before it exists: kept until it is made
    other.ensure(_model())
    assert other.updates == 3
    torch.testing.assert_close(_weights(other.model), averaged)


def test_the_recorder_adds_lr_and_seconds_and_keeps_the_row(tmp_path):
    tracker = RunTracker(tmp_path, None, tensorboard=False)
    tracker._save = lambda *a, **k: None  # no model here: the files are the tracker's tests
    recorder = RunRecorder(tracker, seed=None)
    recorder.start_epoch()
    assert [recorder.count_step() for _ in range(3)] == [1, 2, 3]
    stop = recorder.end_epoch(None, {"train_loss": 0.5, "AP (IoU=0.50:0.95) area=all": 0.2}, {},
                              lr=0.01)
    assert stop is False
    row = recorder.last_row
    assert row["epoch"] == 1 and row["lr"] == 0.01 and row["best"] is True
    assert 0 <= row["seconds"] < 60
    assert (tmp_path / "metrics.csv").read_text().splitlines()[0].startswith("epoch,step,")


def test_the_signal_hook_fires_at_its_step_only(monkeypatch):
    got = []
    monkeypatch.setattr(signal, "SIGUSR1", signal.SIGUSR1)
    previous = signal.signal(signal.SIGUSR1, lambda *_: got.append("usr1"))
    try:
        signal_at_step(2, "3:USR1")
        assert got == []
        signal_at_step(3, "3:USR1")
        assert got == ["usr1"]
        signal_at_step(3, "")  # unset: nothing
        assert got == ["usr1"]
    finally:
        signal.signal(signal.SIGUSR1, previous)
