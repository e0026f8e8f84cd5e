"""``--resume`` checks what it resumes: a tampered ``last.pt`` (options, counters, generators,
optimizer or weights of another model), data whose classes changed, and options that contradict
the run each stop with one line naming the file (or option) and the field; metrics.csv keeps
every finished epoch's row."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from efficientdet_adapter.base.choices import AUG_PRESETS
from efficientdet_adapter.app.demo import write_demo_dataset
from efficientdet_adapter.app.runs import TrainOptions
from efficientdet_adapter.base.errors import CheckpointError
from efficientdet_adapter.training.csvlog import MetricsCSV, read_metrics_csv
from efficientdet_adapter.training.resume_check import class_map_change
from efficientdet_adapter.training.state import load_train_state

REPO = Path(__file__).resolve().parents[2]
TINY = ["--epochs", "2", "--img-size", "128", "--batch-size", "4", "--threads", "1",
        "--pretrained-backbone", "none", "--progress", "lines"]
FIX = "(the file was edited or damaged; resume from an intact last.pt or start a new run)"
MAY = (" (a resume may change only --device, --precision, --num-workers, --progress, --devices, "
       "--num-nodes, --logger, --threads and --data)")


def cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "EFFICIENTDET_ADAPTER_OFFLINE": "1",
           "PYTHONPATH": str(REPO), "PYTHONWARNINGS": "ignore::FutureWarning"}
    return subprocess.run([sys.executable, "-m", "efficientdet_adapter", "train", *args],
                          cwd=cwd, env=env, capture_output=True, text=True, timeout=300)


def one_line(proc: subprocess.CompletedProcess) -> str:
    assert proc.returncode == 2, (proc.stdout[-1000:], proc.stderr[-2000:])
    assert "Traceback" not in proc.stderr
    # the parser's count of fixes (demo exports declare classes no box uses) may come first
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip() and not ln.startswith("parse: ")]
    assert len(lines) == 1, proc.stderr
    return lines[0].removeprefix("efficientdet-adapter train: error: ")


@pytest.fixture(scope="module")
def finished(tmp_path_factory) -> tuple[Path, Path]:
    """A real 2-epoch fastai run on 12 synthetic images: (data, run folder)."""
    root = tmp_path_factory.mktemp("resume_checks")
    data = write_demo_dataset(root / "shapes", num_images=12, seed=2)
    proc = cli("--data", str(data), "--out", str(root / "run"), *TINY, cwd=root)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return data, root / "run"


@pytest.fixture
def run(finished, tmp_path) -> Path:
    copy = tmp_path / "run"
    shutil.copytree(finished[1], copy)
    return copy


def tamper(run: Path, change) -> Path:
    path = run / "last.pt"
    ckpt = torch.load(path, weights_only=True)
    change(ckpt, ckpt["extra"]["train_state"])
    torch.save(ckpt, path)
    return path


def _set(container_key, key, value):
    def change(ckpt, state):
        where = {"options": ckpt["extra"]["options"], "run": state["run"], "state": state,
                 "rng": state["rng"], "opt": state["opt"], "extra": ckpt["extra"],
                 "ckpt": ckpt}[container_key]
        where[key] = value
    return change


TAMPERED = [
    (_set("options", "batch_size", "4"), "extra.options.batch_size is '4'; expected an int >= 1"),
    (_set("options", "lr", "fast"), "extra.options.lr is 'fast'; expected a finite number in "
                                    "(0.0, inf)"),
    (_set("options", "engine", "keras"), "extra.options.engine is 'keras'; expected fastai or "
                                         "lightning"),
    (_set("options", "ema", 1), "extra.options.ema is 1; expected true or false"),
    (_set("options", "img_size", 100), "extra.options.img_size is 100; expected an int >= 128 "
                                       "and <= 4096"),
    (_set("extra", "options", ["x"]), "extra.options is a list; expected a dict"),
    (_set("options", "time", "10m"), "extra.options.time is '10m'; expected a positive number of "
                                      "seconds or None"),
    (_set("options", "anchor_settings", {"anchor_scale": "x"}),
     "extra.options.anchor_settings.anchor_scale is 'x'; expected a positive number"),
    (_set("options", "anchor_settings", {"anchor_scale": -3.0}),
     "extra.options.anchor_settings.anchor_scale is -3.0; expected a positive number"),
    (_set("options", "anchor_settings", -3.0),
     "extra.options.anchor_settings is -3.0; expected a dict of anchor_scale (a positive number) "
     "and aspect_ratios (a list of [x, y] positive pairs)"),
    (_set("options", "aug", "jitter"), "extra.options.aug is 'jitter'; expected full or flip or "
                                       "scale or none"),
    (_set("run", "epoch", -3), "train_state.run.epoch is -3; expected an int >= 0"),
    (_set("run", "epoch", 7), "train_state.run.epoch is 7; expected at most the run's 2 epochs "
                              "(extra.options)"),
    (_set("run", "step", 1.5), "train_state.run.step is 1.5; expected an int >= 0"),
    (_set("run", "best_score", "high"), "train_state.run.best_score is 'high'; expected a "
                                        "finite number or None"),
    (_set("state", "run", "epoch 2"), "train_state.run is 'epoch 2'; expected a dict"),
    (_set("rng", "torch", [1, 2]), "train_state.rng.torch is a list; expected a uint8 tensor "
                                   "(torch.get_rng_state())"),
    (_set("opt", "state", 5), "train_state.opt.state is 5; expected a list of dicts"),
    (_set("state", "engine", "lightning"), "train_state.engine is 'lightning'; expected the "
                                           "engine of extra.options.engine (fastai)"),
    (_set("ckpt", "model_name", "tf_efficientdet_d0"), "model_name is 'tf_efficientdet_d0'; "
                                                       "expected 'tf_efficientdet_lite0', as "
                                                       "extra.options.model_name"),
    (_set("ckpt", "num_classes", 9), "num_classes is 9; expected 5, the length of class_map"),
]


@pytest.mark.slow
@pytest.mark.parametrize("change,message", TAMPERED)
def test_a_tampered_last_pt_is_refused_naming_the_field(run, change, message):
    path = tamper(run, change)
    with pytest.raises(CheckpointError) as info:
        load_train_state(path, TrainOptions)
    assert str(info.value) == f"{path}: {message} {FIX}"


@pytest.mark.slow
@pytest.mark.parametrize("aug", AUG_PRESETS)
def test_a_last_pt_of_every_aug_choice_is_valid_for_resume(run, aug):
    """``--resume`` checks the saved options with TrainOptions itself: every --aug choice (the
    one list, choices.AUG_PRESETS) passes, as --aug scale did not when resume had its own list."""
    path = tamper(run, _set("options", "aug", aug))
    data, _ = load_train_state(path, TrainOptions)
    assert data["extra"]["options"]["aug"] == aug
    assert TrainOptions.from_dict(data["extra"]["options"]).aug == aug


@pytest.mark.slow
def test_a_run_with_aug_scale_resumes(run, tmp_path):
    def scale_at_epoch_one(ckpt, state):  # as if the run had been killed after epoch 1
        ckpt["extra"]["options"]["aug"] = "scale"
        state["run"].update(epoch=1, best_epoch=min(state["run"]["best_epoch"], 1), bad_epochs=0)
        ckpt["extra"]["epoch"] = 1

    tamper(run, scale_at_epoch_one)
    proc = cli("--resume", str(run), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert f"resuming {run}" in proc.stdout
    assert [r["epoch"] for r in read_metrics_csv(run / "metrics.csv")] == [1, 2]
    saved = torch.load(run / "last.pt", weights_only=True)["extra"]
    assert (saved["options"]["aug"], saved["epoch"]) == ("scale", 2)


def test_negative_epoch_on_the_command_line_keeps_every_row(run, tmp_path):
    rows = read_metrics_csv(run / "metrics.csv")
    assert [r["epoch"] for r in rows] == [1, 2]
    path = tamper(run, _set("run", "epoch", -1))
    line = one_line(cli("--resume", str(run), cwd=tmp_path))
    assert line == f"{path}: train_state.run.epoch is -1; expected an int >= 0 {FIX}"
    assert read_metrics_csv(run / "metrics.csv") == rows
    with pytest.raises(ValueError, match=r"keep_until\(-1\)"):
        MetricsCSV(run / "metrics.csv").keep_until(-1)
    assert read_metrics_csv(run / "metrics.csv") == rows


@pytest.mark.slow
def test_a_last_pt_older_than_the_log_would_drop_rows_and_is_refused(run, tmp_path):
    def back_to_zero(ckpt, state):
        state["run"].update(epoch=0, best_epoch=0, bad_epochs=0)
        ckpt["extra"]["epoch"] = 0

    path = tamper(run, back_to_zero)
    rows = read_metrics_csv(run / "metrics.csv")
    line = one_line(cli("--resume", str(run), cwd=tmp_path))
    assert line == (f"--resume {path}: it ends at epoch 0 but {run / 'metrics.csv'} holds "
                    "finished epochs up to 2; resuming would drop their rows. Put back the "
                    "last.pt of epoch 2, or start a new run with another --out")
    assert read_metrics_csv(run / "metrics.csv") == rows


@pytest.mark.slow
def test_optimizer_state_or_weights_of_another_model_are_refused(finished, run, tmp_path):
    path = tamper(run, lambda ckpt, state: state["opt"]["state"].pop())
    count = len(torch.load(finished[1] / "last.pt", weights_only=True)
                ["extra"]["train_state"]["opt"]["state"])
    line = one_line(cli("--resume", str(run), cwd=tmp_path))
    assert line == (f"{path}: train_state.opt.state holds the state of {count - 1} parameters but "
                    f"the model has {count} {FIX}")

    def wider(ckpt, state):
        ckpt["state_dict"]["class_net.predict.conv_pw.bias"] = torch.zeros(99)

    shutil.copy(finished[1] / "last.pt", path)
    tamper(run, wider)
    line = one_line(cli("--resume", str(run), cwd=tmp_path))
    assert line.startswith(f"{path}: state_dict['class_net.predict.conv_pw.bias'] has shape (99,)"
                           " but the model its options describe has (")
    assert line.endswith(FIX)


def _edit_categories(data: Path, out: Path, change) -> Path:
    shutil.copytree(data, out)
    for ann in out.glob("*/_annotations.coco.json"):
        coco = json.loads(ann.read_text())
        change(coco)
        ann.write_text(json.dumps(coco))
    return out


@pytest.mark.slow
def test_data_whose_classes_changed_is_refused_with_what_changed(finished, run, tmp_path):
    data = finished[0]

    def swap(coco):  # circle <-> square: the same boxes, the names exchanged
        names = {c["id"]: c["name"] for c in coco["categories"]}
        for c in coco["categories"]:
            c["name"] = {"circle": "square", "square": "circle"}.get(names[c["id"]], c["name"])

    swapped = _edit_categories(data, tmp_path / "swapped", swap)
    line = one_line(cli("--resume", str(run), "--data", str(swapped), cwd=tmp_path))
    assert line == (f"--resume {run / 'last.pt'}: the data's classes differ from the run's (the "
                    "same classes in another order (run: circle, square, star, triangle; data: "
                    "square, circle, star, triangle)); resume on data with the run's classes in "
                    "the run's order, or start a new run")

    def fifth(coco):
        coco["categories"].append({"id": 5, "name": "hexagon", "supercategory": "objects"})
        if coco["images"]:
            img = coco["images"][0]
            coco["annotations"].append({"id": 10_000, "image_id": img["id"], "category_id": 5,
                                        "bbox": [1, 1, 20, 20], "area": 400, "iscrowd": 0})

    five = _edit_categories(data, tmp_path / "five", fifth)
    line = one_line(cli("--resume", str(run), "--data", str(five), cwd=tmp_path))
    assert "the data's classes differ from the run's (added: hexagon)" in line


@pytest.mark.slow
@pytest.mark.parametrize("args,message", [
    (["--epochs", "4"], "--epochs 4 with --resume {run}: the run trains with --epochs 2 (its "
                        "schedule is laid out for it); leave out --epochs" + MAY + ", or start a "
                        "new run with another --out"),
    (["--lr=0.1"], "--lr 0.1 with --resume {run}: the run trains with --lr 0.005 (its schedule "
                   "is laid out for it); leave out --lr" + MAY + ", or start a new run with "
                   "another --out"),
    (["--batch", "2"], "--batch-size 2 with --resume {run}: the run trains with --batch-size 4 "
                       "(its schedule is laid out for it); leave out --batch-size" + MAY + ", or "
                       "start a new run with another --out"),
    (["--time", "1h"], "--time 3600 s with --resume {run}: the run trains with no --time (its "
                       "schedule is laid out for it); leave out --time" + MAY + ", or start a "
                       "new run with another --out"),
    (["--anchors", "auto"], "--anchors auto with --resume {run}: the run trains with --anchors "
                            "default (its schedule is laid out for it); leave out --anchors" + MAY
                            + ", or start a new run with another --out"),
    (["--ema"], "--ema with --resume {run}: the run trains with --no-ema (its schedule is laid "
                "out for it); leave out --ema" + MAY + ", or start a new run with another --out"),
    (["--out", "elsewhere"], "--out with --resume {run}: a resumed run goes on in its own folder; "
                             "leave out --out (or start a new run with --data and --out)"),
    (["--format", "coco"], "--format with --resume {run}: goes with --data (the run's export was "
                           "read as auto); give both or neither"),
])
def test_options_that_contradict_the_run_are_refused(run, tmp_path, args, message):
    assert one_line(cli("--resume", str(run), *args, cwd=tmp_path)) == message.format(run=run)


@pytest.mark.slow
def test_data_that_moved_is_named_by_data_and_the_run_goes_on(finished, run, tmp_path):
    data = finished[0]
    moved = tmp_path / "moved"
    shutil.copytree(data, moved)

    def elsewhere(ckpt, state):  # the export the run recorded is gone
        ckpt["extra"]["data"] = str(tmp_path / "gone")

    tamper(run, elsewhere)
    line = one_line(cli("--resume", str(run), cwd=tmp_path))
    assert line == (f"--resume {run}: its data {tmp_path / 'gone'} is gone; put the export back "
                    "there, or give its new place with --data")
    # the interrupted second epoch is trained again, on the export's new place
    def at_epoch_one(ckpt, state):
        state["run"].update(epoch=1, best_epoch=min(state["run"]["best_epoch"], 1), bad_epochs=0)
        ckpt["extra"]["epoch"] = 1

    tamper(run, at_epoch_one)
    proc = cli("--resume", str(run), "--data", str(moved), "--epochs", "2", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert f"resuming {run} on --data {moved}" in proc.stdout
    assert [r["epoch"] for r in read_metrics_csv(run / "metrics.csv")] == [1, 2]
    assert torch.load(run / "last.pt", weights_only=True)["extra"]["data"] == str(moved.resolve())


def test_class_map_change_says_what_changed():
    assert class_map_change(["a", "b"], ["a", "b"]) is None
    assert class_map_change(["a", "b"], ["b", "a"]) == ("the same classes in another order (run: "
                                                        "a, b; data: b, a)")
    assert class_map_change(["a", "b"], ["a", "c"]) == "added: c; removed: b"
