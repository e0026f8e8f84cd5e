"""StepValues: per-step numbers read on the host without a host-device sync (issue #12).

A fake event stands for a CUDA event whose copy has not completed yet, so the deferred path
(the one a GPU takes) runs on the CPU."""

from __future__ import annotations

import math
from types import SimpleNamespace

import pytest
import torch

from efficientdet_adapter.base.errors import TrainingError
from efficientdet_adapter.training.state import RunTracker
from efficientdet_adapter.loop.step_values import StepValues
from lightning_for_tests import lightning_or_skip, model_adapter


class Clock:
    """Makes fake events; an event completes once ``done`` reaches its index (or is waited
    for), as the events of one CUDA stream do, in order."""

    def __init__(self) -> None:
        self.made, self.done, self.waits = 0, 0, 0

    def __call__(self):
        clock, index = self, self.made
        self.made += 1

        class Event:
            def query(self) -> bool:
                return index < clock.done

            def synchronize(self) -> None:
                clock.waits += 1
                clock.done = max(clock.done, index + 1)

        return Event()


def test_on_the_cpu_values_are_read_at_once_exactly():
    values = StepValues()
    got = values.push({"loss": torch.tensor(0.1), "box": torch.tensor(0.3, dtype=torch.bfloat16)},
                      meta=7)
    assert got == [(7, {"loss": float(torch.tensor(0.1)),
                        "box": float(torch.tensor(0.3, dtype=torch.bfloat16))})]
    assert len(values) == 0 and values.flush() == []


def test_deferred_values_come_back_in_order_once_ready():
    clock = Clock()
    values = StepValues(make_event=clock)
    losses = [0.5, 0.25, 2.0, 1.5]
    assert [values.push({"loss": torch.tensor(v)}, meta=i) for i, v in enumerate(losses[:3])] \
        == [[], [], []]
    assert len(values) == 3 and clock.waits == 0
    clock.done = 2  # the first two copies have landed
    assert values.ready() == [(0, {"loss": 0.5}), (1, {"loss": 0.25})]
    assert values.ready() == []
    assert values.push({"loss": torch.tensor(1.5)}, meta=3) == []
    assert values.flush() == [(2, {"loss": 2.0}), (3, {"loss": 1.5})]  # epoch end: all of them
    assert clock.waits == 2 and len(values) == 0


def test_mixed_dtypes_keep_their_exact_values_in_one_copy():
    values = StepValues(make_event=Clock())
    half = torch.tensor(0.1, dtype=torch.bfloat16)
    values.push({"a": torch.tensor(1 / 3), "b": half, "c": torch.tensor([2.5])}, meta=None)
    [(_, got)] = values.flush()
    assert got == {"a": float(torch.tensor(1 / 3)), "b": float(half), "c": 2.5}


def test_a_host_that_runs_far_ahead_waits_for_the_oldest_step():
    clock = Clock()
    values = StepValues(make_event=clock, max_pending=2)
    out = [values.push({"loss": torch.tensor(float(i))}, meta=i) for i in range(4)]
    assert out == [[], [], [(0, {"loss": 0.0})], [(1, {"loss": 1.0})]]
    assert len(values) == 2


def _fastai_callback(tracker, clock):
    pytest.importorskip("fastai")
    from efficientdet_adapter.engines.fastai.callbacks import NonFiniteLossCallback

    cb = NonFiniteLossCallback(tracker, values=StepValues(make_event=clock))

    def step(loss: float, i: int) -> None:
        cb.learn = SimpleNamespace(training=True, loss=torch.tensor(loss), epoch=0,
                                   train_iter=i, iter=i, opt=SimpleNamespace(hypers=[{"lr": 1e-3}]))
        cb.after_loss()
        tracker.step()

    return step, cb.after_train


def _lightning_callback(tracker, clock):
    lightning_or_skip()
    from efficientdet_adapter.engines.lightning.callbacks import NonFiniteLoss

    cb = NonFiniteLoss(tracker, values=StepValues(make_event=clock))
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1e-3)

    def step(loss: float, i: int) -> None:
        trainer = SimpleNamespace(current_epoch=0, global_step=i, optimizers=[opt])
        cb.on_train_batch_start(trainer, None, None, i)
        cb.on_before_backward(trainer, None, torch.tensor(loss))
        tracker.step()

    return step, lambda: cb.on_train_epoch_end(None, None)


@pytest.mark.parametrize("callback", [_fastai_callback, _lightning_callback])
def test_a_late_nan_names_its_own_step(callback, tmp_path):
    clock = Clock()
    tracker = RunTracker(tmp_path, None, tensorboard=False)
    step, _ = callback(tracker, clock)
    for i, loss in enumerate([1.0, float("nan"), 1.0, 1.0]):  # the NaN is step 2
        step(loss, i)  # not read yet: no error
    clock.done = 3  # steps 1-3 have reached the host: the next step reports step 2
    with pytest.raises(TrainingError) as info:
        step(1.0, 4)
    message = str(info.value)
    assert message.startswith("training loss is nan in epoch 1, step 2 (batch 2 of the epoch) ")
    assert "at learning rate 0.001" in message and "no checkpoint was kept" in message


@pytest.mark.parametrize("callback", [_fastai_callback, _lightning_callback])
def test_the_epoch_end_finds_a_pending_nan(callback, tmp_path):
    clock = Clock()
    tracker = RunTracker(tmp_path, None, tensorboard=False)
    step, end_of_training = callback(tracker, clock)
    for i, loss in enumerate([1.0, 1.0, math.inf]):
        step(loss, i)
    with pytest.raises(TrainingError, match="training loss is inf in epoch 1, step 3 "):
        end_of_training()
    assert clock.waits == 3


@pytest.mark.parametrize("callback", [_fastai_callback, _lightning_callback])
def test_a_pending_nan_stops_the_epoch_before_any_checkpoint(callback, tmp_path,
                                                             monkeypatch):
    """Whatever the order of the callbacks, the tracker checks the pending losses before it
    writes: weights trained after a NaN never become last.pt or best.pt."""
    clock = Clock()
    tracker = RunTracker(tmp_path, None, tensorboard=False)
    step, _ = callback(tracker, clock)
    step(float("nan"), 0)
    saved = []
    monkeypatch.setattr(tracker, "_save", lambda *a, **k: saved.append(a))
    with pytest.raises(TrainingError, match="step 1 "):
        tracker.end_epoch(torch.nn.Linear(1, 1), {"AP (IoU=0.50:0.95) area=all": 0.5})
    assert saved == [] and tracker.state.epoch == 0
    assert not (tmp_path / "metrics.csv").exists() or "0.5" not in \
        (tmp_path / "metrics.csv").read_text()


def test_the_run_callbacks_keep_every_step_loss_in_order(tmp_path):
    """RunCheckpoint with deferred values: the TensorBoard step losses are those of an
    immediate read, in order, all there at the epoch's end."""
    lightning_or_skip()
    from efficientdet_adapter.engines.lightning.callbacks import RunCheckpoint

    logged = []

    tracker = RunTracker(None, None, tensorboard=False)
    tracker.log_step_loss = lambda loss, step: logged.append((step, loss))
    clock = Clock()
    run = RunCheckpoint(tracker)
    run.values = StepValues(make_event=clock)
    losses = [torch.tensor(v) for v in (0.9, 0.7, 0.8, 0.5)]
    for i, loss in enumerate(losses):
        run.on_train_batch_end(None, None, {"loss": loss}, None, i)
        clock.done = i + 1  # the next push finds this step's copy landed
    expected = [float(v) for v in losses]
    assert logged == list(zip([1, 2, 3], expected[:3]))
    run._use(run.values.flush())  # what on_train_epoch_end does first
    assert logged == list(zip([1, 2, 3, 4], expected))


@pytest.mark.slow
def test_the_lightning_run_callbacks_read_nothing_per_step(tmp_path, syncing_ops):
    """A Lightning fit with the CLI's run callbacks (values deferred as on a GPU): the host
    reads device values a fixed number of times per epoch, none per training step."""
    pl = lightning_or_skip()
    from efficientdet_adapter.efficientdet import model as create_model
    ModelAdapter = model_adapter()
    from efficientdet_adapter.engines.lightning.callbacks import NonFiniteLoss, RunCheckpoint

    class Light(ModelAdapter):
        def configure_optimizers(self):  # SGD: Adam reads its step counter (a CPU tensor here)
            return torch.optim.SGD(self.parameters(), lr=1e-4)

    def batch(seed: int):
        g = torch.Generator().manual_seed(seed)
        boxes = [torch.tensor([[10.0, 10.0, 60.0, 50.0]]), torch.zeros(0, 4)]
        classes = [torch.tensor([1.0]), torch.zeros(0)]
        return ((torch.randn(2, 3, 128, 128, generator=g), {"bbox": boxes, "cls": classes}),
                [None, None])

    def syncs(steps: int) -> tuple[int, list[float]]:
        torch.manual_seed(0)
        light = Light(create_model(model_name="tf_efficientdet_lite0", num_classes=4,
                                   img_size=128))
        tracker, logged = RunTracker(None, None, tensorboard=False), []
        tracker.log_step_loss = lambda loss, step: logged.append(loss)
        run, check = RunCheckpoint(tracker), NonFiniteLoss(tracker)
        run.values = StepValues(make_event=Clock())
        check.values = StepValues(make_event=Clock())
        trainer = pl.Trainer(max_epochs=1, accelerator="cpu", logger=False,
                             enable_checkpointing=False, limit_val_batches=0,
                             enable_progress_bar=False, enable_model_summary=False,
                             callbacks=[run, check], default_root_dir=tmp_path)
        loader = torch.utils.data.DataLoader([batch(i) for i in range(steps)], batch_size=None,
                                             collate_fn=lambda b: b)
        return len(syncing_ops(lambda: trainer.fit(light, loader))), logged

    two, _ = syncs(2)
    four, steps = syncs(4)
    assert four == two  # nothing per step
    assert len(steps) == 4 and all(math.isfinite(v) for v in steps)


@pytest.mark.parametrize("deferred", [False, True])
def test_the_fastai_run_callback_sums_and_steps_match_an_immediate_read(deferred):
    pytest.importorskip("fastai")
    from efficientdet_adapter.engines.fastai.callbacks import RunCallback

    tracker = RunTracker(None, None, tensorboard=False)
    logged = []
    tracker.log_step_loss = lambda loss, step: logged.append((step, loss))
    run = RunCallback(tracker)
    if deferred:
        run.values = StepValues(make_event=Clock())  # never ready before the epoch ends
    run.learn = SimpleNamespace(epoch=0, training=True)
    run.before_fit()
    run.before_epoch()
    parts = [(0.9, 0.6, 0.3), (0.7, 0.5, 0.2), (0.4, 0.3, 0.1)]
    for i, (loss, cls, box) in enumerate(parts):
        run.learn.training = i < 2  # two training batches, one validation batch
        run.learn.pred = {"loss": torch.tensor(loss), "class_loss": torch.tensor(cls),
                          "box_loss": torch.tensor(box)}
        run.learn.loss, run.learn.yb = torch.tensor(loss), [None] * (i + 2)
        run.before_batch()
        if run.learn.training:
            run.after_step()
        run.after_batch()
    assert len(run.values) == (3 if deferred else 0)
    run._use(run.values.flush())  # what after_epoch does first
    f = [[float(torch.tensor(v)) for v in p] for p in parts]
    assert run._sums["train_loss"] == f[0][0] * 2 + f[1][0] * 3
    assert run._sums["valid_box_loss"] == f[2][2] * 4
    assert run._counts == {"train": 5, "valid": 4}
    assert logged == [(1, f[0][0]), (2, f[1][0])]
