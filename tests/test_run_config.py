"""``train --config``, the run record ``args.yaml`` and numbered run folders (run_config)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import yaml

from efficientdet_adapter.app.cli import build_parser
from efficientdet_adapter.app.demo import write_demo_dataset
from efficientdet_adapter.base.errors import UsageError
from efficientdet_adapter.app.run_config import (ARGS_FILE, RUN_FOLDER_ENV, config_argv,
                                                 expand_config, next_run_folder, run_args)
from efficientdet_adapter.app.runs import TrainOptions
from test_cli import assert_user_error, run


def train_parser():
    parser = build_parser()
    sub = next(a for a in parser._actions if hasattr(a, "choices") and isinstance(a.choices, dict))
    return sub.choices["train"]


@pytest.mark.parametrize("text,tokens", [
    ("epochs: 3\nimg_size: 128\n", ["--epochs", "3", "--img-size", "128"]),
    ("img-size: auto\nbatch_size: 2\n", ["--img-size", "auto", "--batch-size", "2"]),
    ("ema: true\ndeterministic: false\npatience: null\n", ["--ema", "--no-deterministic"]),
    ("freeze-bn: false\nexist_ok: false\n", ["--no-freeze-bn"]),  # --exist-ok has no --no-
    ("lr: 0.01\ntime: 10m\n", ["--lr", "0.01", "--time", "10m"]),
    ("", []),
])
def test_config_entries_become_the_flags_they_name(tmp_path, text, tokens):
    cfg = tmp_path / "c.yaml"
    cfg.write_text(text)
    assert config_argv(train_parser(), cfg) == tokens


@pytest.mark.parametrize("text,message", [
    ("epoch: 3\n", r"c.yaml: unknown key 'epoch'; did you mean 'epochs'\? the keys are train's"),
    ("imgsize: 3\n", r"unknown key 'imgsize'; did you mean 'img_size'\?"),
    ("config: other.yaml\n", r"unknown key 'config'"),
    ("no_ema: true\n", r"unknown key 'no_ema'; did you mean 'ema'\?"),  # a switch by its name
    ("ema: 3\n", r"c.yaml: ema: 3 is not true or false"),
    ("epochs: [1, 2]\n", r"c.yaml: epochs: takes one value, not a list"),
    ("- epochs\n", r"c.yaml: holds a list, not a mapping"),
    ("epochs: [\n", r"c.yaml: not valid YAML \(line 2\)"),
])
def test_bad_config_files_are_named_with_the_key(tmp_path, text, message):
    cfg = tmp_path / "c.yaml"
    cfg.write_text(text)
    with pytest.raises(UsageError, match=message):
        config_argv(train_parser(), cfg)


def test_run_folders_number_themselves_as_ultralytics_does(tmp_path, monkeypatch):
    monkeypatch.delenv(RUN_FOLDER_ENV, raising=False)
    base = tmp_path / "runs" / "train"
    assert next_run_folder(base) == base
    base.mkdir(parents=True)
    assert next_run_folder(base) == tmp_path / "runs" / "train2"
    (tmp_path / "runs" / "train2").mkdir()
    assert next_run_folder(base) == tmp_path / "runs" / "train3"
    monkeypatch.setenv(RUN_FOLDER_ENV, str(base))  # a DDP rank takes rank 0's choice
    assert next_run_folder(base) == base


def test_run_args_are_train_options_with_the_budget_resolved(tmp_path):
    opts = TrainOptions(epochs=7, time=600.0, img_size=384)
    before = run_args(tmp_path, "coco", opts)
    after = run_args(tmp_path, "coco", opts, fitted=True, threads=2)
    assert before["time"] == 600.0 and before["epochs"] == 7 and before["model"] == opts.model_name
    assert "time" not in after and after["epochs"] == 7 and after["threads"] == 2
    assert after["data"] == str(tmp_path.resolve())
    flags = {s[2:].replace("-", "_") for s in
             (o for a in train_parser()._actions for o in a.option_strings)}
    assert set(after) <= flags  # every key reads back as a flag of train


def test_run_args_record_a_weights_file_or_folder_as_an_absolute_path(tmp_path, monkeypatch):
    (tmp_path / "runs" / "mine").mkdir(parents=True)
    (tmp_path / "backbone.pth").write_bytes(b"weights")
    (tmp_path / "auto").mkdir()  # a folder named as a word stays the word
    monkeypatch.chdir(tmp_path)
    recorded = run_args("data", "auto", TrainOptions(weights="runs/mine"))
    assert recorded["weights"] == str(tmp_path.resolve() / "runs" / "mine")
    assert recorded["pretrained_backbone"] == "auto" and recorded["data"] == str(
        tmp_path.resolve() / "data")
    recorded = run_args("data", "auto", TrainOptions(weights="auto",
                                                      pretrained_backbone="backbone.pth"))
    assert recorded["weights"] == "auto"
    assert recorded["pretrained_backbone"] == str(tmp_path.resolve() / "backbone.pth")
    assert run_args("data", "auto", TrainOptions(weights="coco"))["weights"] == "coco"


def test_config_file_round_trip_through_args_yaml(tmp_path):
    data = write_demo_dataset(tmp_path / "shapes", num_images=12, seed=2)
    cfg = tmp_path / "my.yaml"
    cfg.write_text(f"data: {data}\nepochs: 1\nimg_size: 128\nbatch_size: 4\nthreads: 1\n"
                   "seed: 3\nlr: 0.004\n")
    proc = run("train", "--config", str(cfg), "--seed", "5", cwd=tmp_path)  # the flag wins
    assert proc.returncode == 0, proc.stderr[-3000:]
    first = tmp_path / "runs" / "train"
    assert f"run folder: {Path('runs') / 'train'}" in proc.stdout
    saved = yaml.safe_load((first / ARGS_FILE).read_text())
    assert saved["seed"] == 5 and saved["lr"] == 0.004 and saved["epochs"] == 1
    assert saved["img_size"] == 128 and saved["data"] == str(data.resolve())
    assert saved["format"] == "auto" and saved["model"] == "tf_efficientdet_lite0"
    assert "out" not in saved and "time" not in saved

    proc = run("train", "--config", str(first / ARGS_FILE), cwd=tmp_path)  # the rerun
    assert proc.returncode == 0, proc.stderr[-3000:]
    second = tmp_path / "runs" / "train2"
    assert yaml.safe_load((second / ARGS_FILE).read_text()) == saved
    options = [torch.load(d / "last.pt", weights_only=True)["extra"]["options"]
               for d in (first, second)]
    assert options[0] == options[1] and options[0]["seed"] == 5


def test_unknown_config_key_is_one_line(tmp_path):
    cfg = tmp_path / "bad.yaml"
    cfg.write_text("data: x\nbatchsize: 4\n")
    proc = run("train", "--config", str(cfg), cwd=tmp_path)
    assert_user_error(proc, r"--config .*bad.yaml: unknown key 'batchsize'; did you mean "
                            r"'batch_size'\?")
    proc = run("train", "--config", str(tmp_path / "none.yaml"), cwd=tmp_path)
    assert_user_error(proc, r"--config .*none.yaml: cannot read it")


def test_config_values_go_through_the_flags_own_checks(tmp_path):
    cfg = tmp_path / "c.yaml"
    cfg.write_text("data: x\nepochs: 0\n")
    proc = run("train", "--config", str(cfg), cwd=tmp_path)
    assert_user_error(proc, r"argument --epochs: 0 must be at least 1")


def test_the_config_file_shown_in_the_docs_reads(tmp_path):
    import re

    page = Path(__file__).resolve().parents[1] / "docs" / "command-line.md"
    [block] = re.findall(r"```yaml\n(.*?)```", page.read_text(), flags=re.S)
    cfg = tmp_path / "my.yaml"
    cfg.write_text(block)
    tokens = config_argv(train_parser(), cfg)
    assert tokens[:2] == ["--data", "pothole/data.yaml"]
    assert tokens[-4:] == ["--logger", "tensorboard", "--logger", "csv"]
    args = build_parser().parse_args(["train", *tokens])
    assert (args.img_size, args.epochs, args.lr, args.ema) == (384, 30, 0.005, True)
    assert args.loggers == ["tensorboard", "csv"]


@pytest.mark.parametrize("written,switches", [
    ([], (True, True, False, True)),
    (["--no-ema", "--no-deterministic", "--freeze-bn", "--no-check-images"],
     (False, False, True, False)),
])
def test_the_command_line_turns_a_files_switch_off_and_on(tmp_path, written, switches):
    """A file's ``ema: true`` was final: a switch had no flag to turn it off."""
    from efficientdet_adapter.app.cli.resume import given_options

    cfg = tmp_path / "c.yaml"
    cfg.write_text("data: x\nema: true\ndeterministic: true\nfreeze_bn: false\n"
                   "check_images: true\n")
    parser = build_parser()
    argv = ["train", "--config", str(cfg), *written]
    expanded = expand_config(parser, argv, parser.parse_args(argv))
    assert expanded[:8] == ["train", "--data", "x", "--ema", "--deterministic", "--no-freeze-bn",
                            "--check-images", "--config"]
    args = parser.parse_args(expanded)
    assert (args.ema, args.deterministic, args.freeze_bn, args.check_images) == switches
    args.argv = expanded  # what --resume compares with the run: --no-ema is --ema given
    assert {"--ema", "--deterministic", "--freeze-bn"} <= given_options(args)
