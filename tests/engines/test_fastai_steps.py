"""engines.fastai.steps: FusedAdam is fastai's Adam; mixed precision and the bar read nothing per step."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch
from fastai.callback import fp16, progress
from fastai.callback.core import Callback, CancelValidException
from fastai.optimizer import Adam
from torch import nn

from efficientdet_adapter.engines.fastai.steps import (
    FusedAdam,
    MixedPrecision,
    ProgressCallback,
)
from efficientdet_adapter.loop.step_values import StepValues

from test_fastai import data, make_learner  # noqa: F401  (its module-scoped data fixture)


def tiny_net(seed=0):
    torch.manual_seed(seed)
    return nn.Sequential(nn.Conv2d(3, 8, 3, bias=False), nn.BatchNorm2d(8), nn.ReLU(), nn.Flatten(),
                         nn.Linear(8 * 6 * 6, 4))


def param_lists(net):
    """Two groups, as a splitter gives (body, head)."""
    ps = list(net.parameters())
    return [ps[:3], ps[3:]]


def run_steps(opt_func, steps=6, seed=0, state=None):
    net = tiny_net(seed)
    opt = opt_func(param_lists(net), lr=1e-2)
    norm_and_bias = [net[1].weight, net[1].bias, net[4].bias]
    for p in norm_and_bias:
        opt.state[p]["do_wd"] = False  # as fastai's Learner does (wd_bn_bias=False)
    if state is not None:
        opt.load_state_dict(state)
    g = torch.Generator().manual_seed(seed + 1)
    for i in range(steps):
        opt.set_hypers(lr=[1e-3 * (i + 1), 1e-2], mom=0.95 - 0.02 * i)  # as one-cycle moves them
        out = net(torch.randn(5, 3, 8, 8, generator=g))
        out.square().mean().backward()
        opt.step()
        opt.zero_grad()
    return net, opt


def test_fused_adam_is_fastais_adam():
    ours, ours_opt = run_steps(FusedAdam)
    theirs, theirs_opt = run_steps(Adam)
    for a, b in zip(ours.parameters(), theirs.parameters()):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)
    for (p, _, s, _), (_, _, t, _) in zip(ours_opt.all_params(), theirs_opt.all_params()):
        assert float(s["step"]) == t["step"] == 6
        torch.testing.assert_close(s["grad_avg"], t["grad_avg"], rtol=1e-5, atol=1e-7)
        torch.testing.assert_close(s["sqr_avg"], t["sqr_avg"], rtol=1e-5, atol=1e-9)
    # the update moved the weights (the comparison is not between two untouched nets)
    assert (ours[4].weight - tiny_net()[4].weight).abs().max() > 1e-3


def test_weight_decay_skips_norm_and_bias_as_fastai_does():
    """One step with zero gradients: only weight decay moves the weights."""
    for opt_func in (FusedAdam, Adam):
        net = tiny_net()
        with torch.no_grad():
            net[1].bias.fill_(0.5)  # not zero, so decay would show
        before = [p.detach().clone() for p in net.parameters()]
        opt = opt_func(param_lists(net), lr=0.1, wd=0.5)
        for p in (net[1].weight, net[4].bias):
            opt.state[p]["do_wd"] = False
        for p in net.parameters():
            p.grad = torch.zeros_like(p)
        opt.step()
        decayed = [not torch.equal(a, b) for a, b in zip(net.parameters(), before)]
        assert decayed == [True, False, True, True, False], opt_func
        torch.testing.assert_close(net[4].weight, before[3] * (1 - 0.1 * 0.5))


def test_fused_adam_takes_over_a_fastai_adam_state():
    """Resuming from a checkpoint written with fastai's Adam (integer ``step``)."""
    _, first = run_steps(Adam, steps=3)
    assert isinstance(first.state_dict()["state"][0]["step"], int)
    ours, _ = run_steps(FusedAdam, steps=3, state=copy.deepcopy(first.state_dict()))
    theirs, _ = run_steps(Adam, steps=3, state=copy.deepcopy(first.state_dict()))
    for a, b in zip(ours.parameters(), theirs.parameters()):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)


def test_an_overflowing_fp16_step_is_skipped_on_the_device(syncing_ops):
    net = tiny_net()
    opt = FusedAdam(param_lists(net), lr=1e-2)
    scaler = torch.amp.GradScaler("cpu", init_scale=2.0**16)
    before = [p.detach().clone() for p in net.parameters()]
    loss = net(torch.randn(2, 3, 8, 8)).sum() * float("inf")
    scaler.scale(loss).backward()
    assert syncing_ops(lambda: (scaler.step(opt), scaler.update())) == []
    assert all(torch.equal(a, b) for a, b in zip(net.parameters(), before))
    assert all(float(s["step"]) == 0 for _, _, s, _ in opt.all_params(with_grad=True))
    assert scaler.get_scale() == 2.0**15  # halved for the next step
    opt.zero_grad()
    scaler.scale(net(torch.randn(2, 3, 8, 8)).sum()).backward()
    scaler.step(opt)
    assert not torch.equal(net[4].weight, before[3])


def test_fused_adam_refuses_l2_regularization():
    with pytest.raises(ValueError, match="decouple_wd=False"):
        FusedAdam(tiny_net().parameters(), lr=1e-3, decouple_wd=False)


def test_learner_defaults_to_the_fused_optimizer_and_bar(data, tmp_path):  # noqa: F811
    learn = make_learner(data, tmp_path)
    learn.create_opt()
    assert isinstance(learn.opt, FusedAdam)
    assert learn.opt.hypers[0] | {} == {"lr": learn.lr, "mom": 0.9, "sqr_mom": 0.99,
                                        "eps": 1e-5, "wd": 0.01}
    full = make_learner(data, tmp_path, metrics=None)
    from efficientdet_adapter.efficientdet.fastai import learner

    fresh = learner([full.dls.train, full.dls.valid], full.model, device="cpu")
    assert [type(cb) for cb in fresh.cbs if isinstance(cb, progress.ProgressCallback)] == [
        ProgressCallback]
    assert isinstance(fresh.to_fp16().mixed_precision, MixedPrecision)
    fresh.to_fp32()
    assert not any(isinstance(cb, fp16.MixedPrecision) for cb in fresh.cbs)


class NeverReady:
    """A fake CUDA event that never completes: values stay on the "device", as on a busy GPU."""

    def query(self):
        return False

    def synchronize(self):
        pass


class SkipValidation(Callback):
    """Validation reads detections on the host (their count varies with the weights)."""

    def before_validate(self):
        raise CancelValidException()


def fit_host_reads(data, tmp_path, syncing_ops, images, precision, stock_opt, stock_bar):
    """Host reads of a real fastai fit: 1 epoch over ``images`` training images (batches of
    4), no validation."""
    learn = make_learner({"train": data["train"][:images], "valid": data["valid"]}, tmp_path)
    learn.add_cb(progress.ProgressCallback() if stock_bar
                 else ProgressCallback(StepValues(make_event=NeverReady)))
    learn.add_cb(MixedPrecision(amp_mode=precision))
    if stock_opt:
        learn.opt_func = Adam
    ops = syncing_ops(lambda: learn.fit(1, lr=1e-3, cbs=[SkipValidation()]))
    assert np.isfinite(learn.recorder.values[-1][0])
    return len(ops)


@pytest.mark.parametrize("precision", ["fp16", "bf16"])
@pytest.mark.skipif(tuple(int(v) for v in torch.__version__.split(".")[:2]) < (2, 5),
                    reason="torch 2.4's TorchDispatchMode (the sync counter) cannot follow "
                           "fastai 2.7's tensor subclasses through a mixed-precision step")
def test_mixed_precision_fit_reads_nothing_per_step(data, tmp_path, syncing_ops,  # noqa: F811
                                                    precision):
    """Mixed precision on the CPU, with the progress bar: 2 training steps read the host as
    often as 1 (per-epoch reads only). fastai's bar reads once per step, and in fp16 fastai's
    step reads the found-inf flag and the scale (with an optimizer without fused scaling)."""

    def reads(images, stock_opt=False, stock_bar=False):
        return fit_host_reads(data, tmp_path, syncing_ops, images, precision, stock_opt, stock_bar)

    assert reads(4) == reads(8)
    assert reads(8, stock_bar=True) - reads(4, stock_bar=True) == 1
    stock = reads(8, stock_opt=True, stock_bar=True) - reads(4, stock_opt=True, stock_bar=True)
    if precision == "fp16":  # the bar, found-inf, and the scale after each step not skipped
        assert stock >= 2
    else:
        assert stock == 1  # the bar only: bf16 has no scaler
