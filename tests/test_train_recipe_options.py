"""``--backbone-lr-mult`` and ``--freeze-bn``: validated options, the command line's flags, and
what they do in real one-epoch runs of both engines (the optimizer's rates per group, the
BatchNorm statistics left as the weights came)."""

from __future__ import annotations

import pytest
import torch

from efficientdet_adapter.app.demo import write_demo_dataset
from efficientdet_adapter.base.errors import ArgumentError
from efficientdet_adapter.app.runs import TrainOptions, load_splits, train_model


@pytest.mark.parametrize("kwargs, message", [
    ({"backbone_lr_mult": 0}, "backbone_lr_mult=0 (an int): pass a number in (0, 1]"),
    ({"backbone_lr_mult": 1.5}, "backbone_lr_mult=1.5 (a float): pass a number in (0, 1]"),
    ({"backbone_lr_mult": True}, "backbone_lr_mult=True (a bool): pass a number in (0, 1]"),
    ({"backbone_lr_mult": float("nan")}, "backbone_lr_mult=nan (a float): pass a number in (0, 1]"),
    ({"backbone_lr_mult": 0.1, "freeze_epochs": 1},
     "backbone_lr_mult=0.1 with freeze_epochs=1: fastai's fine_tune sets its own lr per group"),
])
def test_bad_backbone_lr_mult_is_refused(kwargs, message):
    with pytest.raises(ArgumentError) as e:
        TrainOptions(**kwargs)
    assert message in str(e.value)


def test_group_lrs_follow_param_groups_order():
    assert TrainOptions(lr=0.008, backbone_lr_mult=0.5).group_lrs() == [0.004, 0.008, 0.008]
    assert TrainOptions().group_lrs() == [0.005] * 3


def test_cli_flags_reach_the_options():
    from efficientdet_adapter.app.cli import build_parser
    from efficientdet_adapter.app.cli.resume import RESUME_WHAT
    from efficientdet_adapter.app.cli.training_flags import train_options as _options

    args = build_parser().parse_args(["train", "--data", "x", "--backbone-lr-mult", "0.1",
                                      "--freeze-bn"])
    opts = _options(args)
    assert opts.backbone_lr_mult == 0.1 and opts.freeze_bn is True
    defaults = _options(build_parser().parse_args(["train", "--data", "x"]))
    assert defaults.backbone_lr_mult == 1.0 and defaults.freeze_bn is False
    assert RESUME_WHAT["--backbone-lr-mult"] == "backbone_lr_mult"
    assert RESUME_WHAT["--freeze-bn"] == "freeze_bn"
    back = TrainOptions.from_dict(opts.to_dict())  # last.pt keeps them for --resume
    assert back.backbone_lr_mult == 0.1 and back.freeze_bn is True


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    data = write_demo_dataset(tmp_path_factory.mktemp("tiny") / "shapes", num_images=16, seed=1)
    train, valid, _, class_map, _ = load_splits(data)
    return train[:8], valid[:2], class_map


def bn_stats(model) -> dict[str, torch.Tensor]:
    from efficientdet_adapter.model.wrappers import find_network

    return {k: v.clone() for k, v in find_network(model).state_dict().items()
            if k.endswith(("running_mean", "running_var"))}


def fresh_model(opts, class_map):
    from efficientdet_adapter.model.model import model as build_model

    # as train_model builds it: the same start (offline in the tests: the packaged backbone)
    return build_model(model_name=opts.model_name, class_map=class_map, img_size=opts.img_size,
                       weights=opts.weights, pretrained_backbone=opts.pretrained_backbone)


def run(tiny, tmp_path, **kwargs):
    train, valid, class_map = tiny
    opts = TrainOptions(img_size=128, epochs=1, batch_size=4, progress="lines", device="cpu",
                        precision="32", **kwargs)
    model = train_model(train, valid, class_map, opts, out=tmp_path)
    return model, opts, torch.load(tmp_path / "last.pt", weights_only=True)["extra"]


@pytest.mark.slow
@pytest.mark.parametrize("engine", ["fastai", "lightning"])
def test_backbone_lr_mult_scales_the_backbone_group_only(engine, tiny, tmp_path):
    _, _, saved = run(tiny, tmp_path, engine=engine, backbone_lr_mult=0.1)
    state = saved["train_state"]
    if engine == "fastai":
        lrs = [h["lr"] for h in state["opt"]["hypers"]]
    else:
        lrs = [g["lr"] for g in state["lightning"]["optimizer_states"][0]["param_groups"]]
    assert len(lrs) == 3 and lrs[1] == lrs[2] > 0
    assert lrs[0] == pytest.approx(0.1 * lrs[2], rel=1e-6)
    assert saved["options"]["backbone_lr_mult"] == 0.1


@pytest.mark.slow
@pytest.mark.parametrize("engine", ["fastai", "lightning"])
def test_freeze_bn_keeps_the_running_statistics(engine, tiny, tmp_path):
    model, opts, saved = run(tiny, tmp_path, engine=engine, freeze_bn=True, seed=3)
    before = bn_stats(fresh_model(opts, tiny[2]))
    after = bn_stats(model)
    assert len(after) > 100 and after.keys() == before.keys()
    assert all(torch.equal(before[k], after[k]) for k in before)
    assert saved["options"]["freeze_bn"] is True


@pytest.mark.slow
def test_without_freeze_bn_the_running_statistics_move(tiny, tmp_path):
    model, opts, _ = run(tiny, tmp_path, engine="fastai")
    before, after = bn_stats(fresh_model(opts, tiny[2])), bn_stats(model)
    assert sum(not torch.equal(before[k], after[k]) for k in before) > 100
