"""The fastai learner and the Lightning adapter are thin: same start, same batches, same losses.

A plain loop over effdet's own ``DetBenchTrain`` (not our subclass, not our steps) is the
reference: the first training losses through all three loops agree to 1e-5.
"""

from __future__ import annotations

import copy

import pytest
import torch
from effdet.bench import DetBenchTrain

from efficientdet_adapter import tfms
from efficientdet_adapter.records.dataset import Dataset
from efficientdet_adapter.app.demo import demo_class_map, demo_records
from efficientdet_adapter.efficientdet import model as create_model
from efficientdet_adapter.efficientdet import normalize_tfm
from efficientdet_adapter.loop.dataloaders import train_dl, valid_dl
from lightning_for_tests import lightning_or_skip, model_adapter

SIZE = 128
BATCH = 2
STEPS = 3
LR = 0.05  # large enough that the 2nd and 3rd losses move away from the 1st


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    """An initial model and loaders of STEPS training batches (no shuffle) and one valid batch."""
    torch.manual_seed(0)
    splits = demo_records(tmp_path_factory.mktemp("demo"), num_images=12, splits=(0.8, 0.2, 0.0))
    model = create_model(model_name="tf_efficientdet_lite0", num_classes=len(demo_class_map()),
                         img_size=SIZE)
    tfm = tfms.A.Adapter([*tfms.A.resize_and_pad(SIZE), normalize_tfm(model)])
    train = Dataset(splits["train"][: STEPS * BATCH], tfm)
    valid = Dataset(splits["valid"][:BATCH], tfm)
    return model, train_dl(train, batch_size=BATCH), valid_dl(valid, batch_size=BATCH)


def plain_effdet_losses(model, dl, channels_last: bool) -> list[float]:
    """effdet's DetBenchTrain around a copy of the bare network, a hand-written SGD loop, in the
    memory layout asked for."""
    fmt = torch.channels_last if channels_last else torch.contiguous_format
    bench = DetBenchTrain(copy.deepcopy(model.model).to(memory_format=fmt),
                          create_labeler=True).train()
    opt = torch.optim.SGD(bench.parameters(), lr=LR, momentum=0.0)
    losses = []
    for (images, targets), _records in dl:
        out = bench(images.contiguous(memory_format=fmt),
                    {"bbox": targets["bbox"], "cls": targets["cls"]})
        losses.append(out["loss"].item())
        out["loss"].backward()
        opt.step()
        opt.zero_grad()
    return losses


def fastai_losses(model, train, valid, tmp_path, channels_last: bool) -> list[float]:
    from fastai.callback.core import Callback
    from fastai.optimizer import SGD

    from efficientdet_adapter.efficientdet.fastai import learner

    class RecordLoss(Callback):
        def before_fit(self):
            self.losses = []

        def after_loss(self):
            if self.training:
                self.losses.append(self.learn.loss.item())

    rec = RecordLoss()
    learn = learner([train, valid], copy.deepcopy(model), cbs=[rec], opt_func=SGD, path=tmp_path,
                    device="cpu", channels_last=channels_last)  # compared with CPU loops
    with learn.no_bar(), learn.no_logging():
        learn.fit(1, lr=LR)
    return rec.losses


def lightning_losses(model, train, channels_last: bool) -> list[float]:
    pl = lightning_or_skip()

    ModelAdapter = model_adapter()

    class SGDAdapter(ModelAdapter):
        def configure_optimizers(self):
            return torch.optim.SGD(self.parameters(), lr=LR, momentum=0.0)

    class RecordLoss(pl.Callback):
        losses: list[float] = []

        def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
            self.losses.append(outputs["loss"].item())

    rec = RecordLoss()
    rec.losses = []
    trainer = pl.Trainer(max_steps=STEPS, accelerator="cpu", logger=False, callbacks=[rec],
                         enable_checkpointing=False, enable_progress_bar=False,
                         enable_model_summary=False, limit_val_batches=0)
    trainer.fit(SGDAdapter(copy.deepcopy(model), channels_last=channels_last), train)
    return rec.losses


@pytest.mark.parametrize("channels_last", [False, True], ids=["nchw", "channels_last"])
def test_three_loops_give_the_same_first_losses(setup, tmp_path, channels_last):
    """In either layout (channels_last is the engines' default on the CPU): float32 results
    depend on the layout's summation order, so each layout is compared with its own."""
    model, train, valid = setup
    reference = plain_effdet_losses(model, train, channels_last)
    assert len(reference) == STEPS
    # the steps change the model: a test of equal losses means something
    assert abs(reference[-1] - reference[0]) > 1e-2, reference
    got = {
        "fastai": fastai_losses(model, train, valid, tmp_path, channels_last),
        "lightning": lightning_losses(model, train, channels_last),
    }
    print({"plain effdet": reference, **got})
    for name, losses in got.items():
        assert losses == pytest.approx(reference, abs=1e-5, rel=0), name


def test_validation_and_predict_steps_move_the_batch_to_the_model():
    """fastai moves the model to the GPU; a CPU batch must follow it (shown with the meta
    device, which every machine has)."""
    import torch

    from efficientdet_adapter.loop.steps import to_device

    batch = ((torch.zeros(2, 3, 8, 8), {"bbox": [torch.zeros(1, 4)], "img_size": torch.ones(2, 2),
                                        "note": "kept"}), ["r0", "r1"])
    (images, targets), records = batch
    moved_images, moved = to_device(images, torch.device("meta")), to_device(targets, torch.device("meta"))
    assert moved_images.device.type == "meta"
    assert moved["bbox"][0].device.type == "meta" and moved["img_size"].device.type == "meta"
    assert moved["note"] == "kept" and isinstance(moved["bbox"], list)
