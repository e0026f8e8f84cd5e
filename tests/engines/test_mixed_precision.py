"""Mixed precision on the CPU (bf16 autocast): float32 losses, finite, near fp32; labels untouched
by autocast; channels_last steps; no host-device sync per training step (engines included)."""

from __future__ import annotations

import copy

import pytest
import torch

from efficientdet_adapter.model.ops.anchor_labels import label_anchors
from efficientdet_adapter.loop.steps import (
    LOSS_KEYS,
    input_memory_format,
    loss_step,
    use_channels_last,
)
from lightning_for_tests import lightning_or_skip, model_adapter

SIZE = 128
#: bf16 keeps 8 bits of mantissa: the losses of a random net move by a few percent (the small box
#: loss, a sum of differences of the box outputs, by 6% on this batch).
REL_TOL = 0.1


@pytest.fixture(scope="module")
def model():
    from efficientdet_adapter.efficientdet import model as create_model

    torch.manual_seed(0)
    return create_model(model_name="tf_efficientdet_lite0", num_classes=4, img_size=SIZE).train()


def _batch(n: int = 3, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    images = torch.randn(n, 3, SIZE, SIZE, generator=g)
    boxes, classes = [], []
    for i in range(n):
        k = i  # 0, 1, 2 boxes: a negative image too
        yx = torch.rand(k, 2, generator=g) * SIZE * 0.6
        hw = 8 + torch.rand(k, 2, generator=g) * SIZE * 0.3
        boxes.append(torch.cat([yx, yx + hw], 1))
        classes.append(torch.randint(1, 4, (k,), generator=g).float())
    return ((images, {"bbox": boxes, "cls": classes}), [None] * n)


def _losses(model, batch, dtype=None):
    with torch.autocast("cpu", dtype=dtype or torch.bfloat16, enabled=dtype is not None):
        return loss_step(model, batch)


@pytest.mark.parametrize("channels_last", [False, True])
def test_bf16_losses_are_float32_finite_and_near_fp32(model, channels_last):
    m = use_channels_last(copy.deepcopy(model), channels_last)
    batch = _batch()
    fp32 = _losses(m, batch)
    bf16 = _losses(m, batch, torch.bfloat16)
    for key in LOSS_KEYS:
        assert bf16[key].dtype == torch.float32, key
        assert torch.isfinite(bf16[key]), key
        assert bf16[key].item() == pytest.approx(fp32[key].item(), rel=REL_TOL), key
    bf16["loss"].backward()
    grads = [p.grad for p in m.parameters() if p.grad is not None]
    assert grads and all(g.dtype == torch.float32 and torch.isfinite(g).all() for g in grads)


def test_anchor_labels_do_not_change_under_autocast(model):
    (_, targets), _ = _batch(4, seed=3)
    plain = label_anchors(model.anchors, targets["bbox"], targets["cls"])
    with torch.autocast("cpu", dtype=torch.bfloat16):
        autocast = label_anchors(model.anchors, targets["bbox"], targets["cls"])
    for a, b in zip(plain[0] + plain[1] + [plain[2]], autocast[0] + autocast[1] + [autocast[2]]):
        assert a.dtype == b.dtype and torch.equal(a, b)
    assert plain[1][0].dtype == torch.float32


def test_channels_last_is_used_and_changes_nothing_but_the_layout(model):
    m = copy.deepcopy(model)
    assert input_memory_format(m) == torch.contiguous_format
    use_channels_last(m)
    assert input_memory_format(m) == torch.channels_last
    seen = []
    hook = m.model.register_forward_pre_hook(lambda mod, args: seen.append(args[0]))
    batch = _batch()
    try:
        losses = loss_step(m, batch)
    finally:
        hook.remove()
    assert seen[0].is_contiguous(memory_format=torch.channels_last)
    expected = loss_step(model, batch)
    for key in LOSS_KEYS:
        assert losses[key].item() == pytest.approx(expected[key].item(), rel=1e-4), key
    use_channels_last(m, False)
    assert input_memory_format(m) == torch.contiguous_format


def test_bf16_training_step_reads_nothing_on_the_host(model, syncing_ops):
    m = use_channels_last(copy.deepcopy(model))
    batch = _batch()
    assert syncing_ops(lambda: _losses(m, batch, torch.bfloat16)["loss"].backward()) == []


@pytest.mark.slow
def test_lightning_bf16_adds_no_sync_per_step(tmp_path, syncing_ops):
    """A Lightning fit in bf16-mixed with its progress bar on: the host reads device values a
    fixed number of times per fit (its start and end), none per training step."""
    pl = lightning_or_skip()
    from efficientdet_adapter.efficientdet import model as create_model
    ModelAdapter = model_adapter()

    class Light(ModelAdapter):
        def configure_optimizers(self):  # SGD: Adam reads its step counter (a CPU tensor here)
            return torch.optim.SGD(self.parameters(), lr=1e-4)

    batches = [_batch(2, seed=i) for i in range(4)]

    def loader(n: int):
        return torch.utils.data.DataLoader(batches[:n], batch_size=None, collate_fn=lambda b: b)

    def syncs(steps: int) -> tuple[int, list[float]]:
        torch.manual_seed(0)
        light = Light(create_model(model_name="tf_efficientdet_lite0", num_classes=4,
                                   img_size=SIZE))
        trainer = pl.Trainer(max_steps=steps, precision="bf16-mixed", accelerator="cpu",
                             logger=False, enable_checkpointing=False, limit_val_batches=0,
                             enable_model_summary=False, default_root_dir=tmp_path)
        ops = syncing_ops(lambda: trainer.fit(light, loader(steps)))
        metrics = trainer.callback_metrics
        return len(ops), [float(metrics[f"train_{k}"]) for k in LOSS_KEYS]

    two, losses = syncs(2)
    four, _ = syncs(4)
    assert four == two  # nothing per step
    assert all(torch.isfinite(torch.tensor(losses)))


@pytest.mark.parametrize(
    "setting, device, precision, expected",
    [
        ("auto", "cuda", "bf16-mixed", True),
        ("auto", "cuda", "16-mixed", True),
        ("auto", "cuda", "32-true", False),
        ("auto", "cpu", "bf16-mixed", True),
        ("auto", "cpu", "32-true", True),
        ("auto", "mps", "32-true", False),
        (True, "cpu", "32-true", True),
        (False, "cuda", "16-mixed", False),
    ],
)
def test_lightning_channels_last_setting(setting, device, precision, expected):
    lightning_or_skip()
    from efficientdet_adapter.engines.lightning.adapter import _wants_channels_last

    assert _wants_channels_last(setting, device, precision) is expected


@pytest.mark.parametrize("setting, to_bf16, expected", [
    ("auto", True, torch.channels_last),  # the CPU, where oneDNN trains faster in that layout
    ("auto", False, torch.channels_last),
    (True, False, torch.channels_last),
    (False, True, torch.contiguous_format),
])
def test_fastai_channels_last_setting(model, tmp_path, setting, to_bf16, expected):
    pytest.importorskip("fastai")
    from efficientdet_adapter.efficientdet.fastai import EfficientDetCallback, learner

    m = copy.deepcopy(model)
    dl = torch.utils.data.DataLoader([])
    learn = learner([dl, dl], m, device="cpu", path=tmp_path, channels_last=setting)
    if to_bf16:
        learn.to_bf16()
    [callback] = [cb for cb in learn.cbs if isinstance(cb, EfficientDetCallback)]
    callback.before_fit()
    assert input_memory_format(m) == expected
