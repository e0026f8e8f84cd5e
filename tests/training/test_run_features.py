"""Early stopping, EMA, a non-finite loss, Ctrl-C, an earlier run in --out, metrics.csv across a
resume, the confusion matrix's semantics and the device/precision choices."""

from __future__ import annotations

import importlib.util
import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from efficientdet_adapter.records.bbox import BBox
from efficientdet_adapter.records.class_map import ClassMap
from efficientdet_adapter.app.demo import write_demo_dataset
from efficientdet_adapter.engines.core import SIGNAL_AT_STEP_ENV
from efficientdet_adapter.base.errors import UsageError
from efficientdet_adapter.records.predictions import Prediction
from efficientdet_adapter.records.record import Record
from efficientdet_adapter.training import (MetricsCSV, RunTracker, check_run_folder,
                                           read_metrics_csv, resolve_device, resolve_precision)
from efficientdet_adapter.training.plots import confusion_matrix, pr_curves
from cli_output import dependency_warnings
from lightning_for_tests import lightning_or_skip, model_adapter

REPO = Path(__file__).resolve().parents[2]
TINY = ["--img-size", "128", "--batch-size", "4", "--threads", "1", "--progress", "lines",
        "--pretrained-backbone", "none", "--aug", "none"]


def run(*args: str, cwd: Path, timeout: int = 300) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "EFFICIENTDET_ADAPTER_OFFLINE": "1",
           "PYTHONPATH": str(REPO)}
    proc = subprocess.run([sys.executable, "-m", "efficientdet_adapter", *args], cwd=cwd,
                          env=env, capture_output=True, text=True, timeout=timeout)
    assert dependency_warnings(proc.stdout + proc.stderr) == [], proc.stderr[-2000:]
    return proc


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    return write_demo_dataset(tmp_path_factory.mktemp("feat") / "shapes", num_images=12, seed=2)


# -- the engine-agnostic core, in process ------------------------------------------------------
class _Net(torch.nn.Module):
    pass


@pytest.mark.parametrize("scores,patience,stopped_at,best_epoch", [
    ([0.1, 0.2, 0.2, 0.15, 0.3], 2, 4, 2),   # two epochs without a better AP: stop after 4
    ([0.1, 0.2, 0.3, 0.4], 2, None, 4),      # always better: never stops
    ([-1.0, -1.0, -1.0], 1, 2, 1),           # no boxes to score: first epoch is best, then stop
    ([float("nan"), 0.1], 3, None, 2),       # a NaN score never counts as best
])
def test_tracker_best_and_early_stopping(scores, patience, stopped_at, best_epoch):
    tracker = RunTracker(None, None, patience=patience)
    first_stop = None
    for epoch, score in enumerate(scores, 1):
        if tracker.end_epoch(None, {"AP (IoU=0.50:0.95) area=all": score}):
            first_stop = epoch
            break
    assert first_stop == stopped_at
    assert tracker.state.best_epoch == best_epoch


def test_tracker_refuses_patience_zero():
    with pytest.raises(UsageError, match=r"--patience 0: must be at least 1"):
        RunTracker(None, None, patience=0)


def test_metrics_csv_keeps_earlier_rows_once(tmp_path):
    log = MetricsCSV(tmp_path / "metrics.csv")
    for e in (1, 2, 3):
        log.append({"epoch": e, "train_loss": 1.0 / e})
    MetricsCSV(tmp_path / "metrics.csv").keep_until(2)  # a resume from epoch 2's last.pt
    log = MetricsCSV(tmp_path / "metrics.csv")
    log.append({"epoch": 3, "train_loss": 0.3, "lr": 1e-3})
    rows = read_metrics_csv(tmp_path / "metrics.csv")
    assert [r["epoch"] for r in rows] == [1, 2, 3]
    assert rows[2]["train_loss"] == 0.3 and rows[0]["lr"] is None and rows[2]["lr"] == 1e-3


def test_run_folder_with_an_earlier_run_is_refused(tmp_path):
    check_run_folder(tmp_path)  # empty: fine
    (tmp_path / "metrics.csv").write_text("epoch\n1\n")
    with pytest.raises(UsageError, match=r"holds an earlier run \(metrics\.csv\); continue it "
                                         r"with --resume .*--exist-ok"):
        check_run_folder(tmp_path)
    check_run_folder(tmp_path, exist_ok=True)
    with pytest.raises(UsageError, match=r"--resume .*: no last\.pt there"):
        check_run_folder(tmp_path, resume=True)


@pytest.mark.parametrize("device,precision,expected", [
    ("cpu", "auto", "32"), ("cpu", "32", "32")])
def test_precision_defaults_on_the_cpu(device, precision, expected):
    assert resolve_precision(precision, device) == expected


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the refusals of a CPU machine")
def test_device_auto_and_refusals_without_a_gpu():
    assert resolve_device("auto") == "cpu"
    with pytest.raises(UsageError, match=r"--device cuda: PyTorch sees no CUDA GPU"):
        resolve_device("cuda")
    with pytest.raises(UsageError, match=r"--precision bf16-mixed on cpu: mixed precision needs "
                                         r"a CUDA GPU; use --precision 32"):
        resolve_precision("bf16-mixed", "cpu")


def _pred(boxes, labels, gt_boxes, gt_labels, cm):
    gt = Record(record_id=0, filepath=None, width=100, height=100, class_map=cm,
                bboxes=[BBox.from_xyxy(*b) for b in gt_boxes], label_ids=list(gt_labels),
                labels=[cm.get_by_id(i) for i in gt_labels])
    return Prediction(boxes=np.array(boxes, np.float32).reshape(-1, 4),
                      scores=np.linspace(0.9, 0.6, len(boxes)).astype(np.float32),
                      label_ids=np.array(labels, np.int64), class_map=cm, ground_truth=gt,
                      detection_threshold=0.5)


def test_confusion_matrix_has_simple_confusion_matrix_semantics():
    cm = ClassMap(["a", "b"])
    pred = _pred(
        boxes=[[0, 0, 10, 10], [20, 20, 30, 30], [50, 50, 60, 60]],  # right, wrong class, nothing
        labels=[1, 1, 2],
        gt_boxes=[[0, 0, 10, 11], [20, 20, 30, 30], [80, 80, 90, 90]],  # last one missed
        gt_labels=[1, 2, 2], cm=cm)
    m = confusion_matrix([pred], len(cm))
    expected = np.array([[0, 0, 1],    # background row: the detection on nothing (class b)
                         [0, 1, 0],    # a found as a
                         [1, 1, 0]])   # b: once missed (background column), once taken for a
    np.testing.assert_array_equal(m, expected)
    (r1, p1) = pr_curves([pred], len(cm))[1]
    assert r1[-1] == pytest.approx(1.0) and p1[-1] == pytest.approx(0.5)  # 1 of 2 "a" is right


@pytest.mark.parametrize("classes", [1, 2, 12])
def test_confusion_matrix_picture_holds_its_title_and_labels(classes, tmp_path):
    """The saved picture shows its whole title and every class name, one class or many (a
    one-class run's figure was 2.6 inches wide and cut its title at "IoU >=")."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    from efficientdet_adapter.training.plots import draw_confusion_matrix

    names = ["background", *(f"class_{i}" for i in range(1, classes + 1))]
    m = np.arange((classes + 1) ** 2).reshape(classes + 1, classes + 1)
    fig = draw_confusion_matrix(m, names)
    fig.tight_layout()
    FigureCanvasAgg(fig).draw()
    ax = fig.axes[0]
    assert ax.get_title() == "confusion matrix (IoU >= 0.5)"
    texts = [ax.title, ax.xaxis.label, ax.yaxis.label, *ax.get_xticklabels(), *ax.get_yticklabels()]
    assert [t.get_text() for t in ax.get_xticklabels()] == names
    for text in texts:
        box = text.get_window_extent()
        assert box.x0 >= 0 and box.y0 >= 0, text.get_text()
        assert box.x1 <= fig.bbox.width and box.y1 <= fig.bbox.height, text.get_text()


# -- real runs ---------------------------------------------------------------------------------
def engines() -> list:
    """Both training engines, each skipped where its extra is not installed."""
    return [pytest.param(e, marks=pytest.mark.skipif(
                not any(importlib.util.find_spec(name) for name in m.split("|")),
                reason=f"needs {m}"))
            for e, m in (("fastai", "fastai"), ("lightning", "lightning|pytorch_lightning"))]


@pytest.mark.slow
@pytest.mark.parametrize("engine", engines())
def test_patience_ema_and_the_files_users_read(engine, data, tmp_path):
    out = tmp_path / "run"
    proc = run("train", "--data", str(data), "--out", str(out), "--epochs", "4", "--patience",
               "1", "--ema", "--lr", "1e-9", "--engine", engine, *TINY, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    rows = read_metrics_csv(out / "metrics.csv")
    # at lr 1e-9 nothing improves after epoch 1: patience 1 stops after epoch 2
    assert [r["epoch"] for r in rows] == [1, 2], proc.stdout
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("epoch ")]
    assert len(lines) == 2 and "\r" not in proc.stdout and lines[0].startswith("epoch 1/4")
    keys = {"train_loss", "valid_loss", "train_class_loss", "valid_box_loss", "lr", "seconds",
            "AP (IoU=0.50:0.95) area=all", "AR (IoU=0.50:0.95) area=large maxDets=100",
            "AP (IoU=0.50:0.95) area=all class=circle"}
    assert keys <= set(rows[0]) and rows[0]["seconds"] > 0
    best = torch.load(out / "best.pt", weights_only=True)
    last = torch.load(out / "last.pt", weights_only=True)
    assert best["extra"]["epoch"] == last["extra"]["best_epoch"]
    state = last["extra"]["train_state"]
    assert state["run"]["bad_epochs"] >= 1 and state["run"]["stopped_early"] is True
    # with --ema the saved model is the EMA, and the raw weights ride along for resuming
    # (fastai's beside it, Lightning's in its own checkpoint dict)
    if engine == "fastai":
        ema_state, raw = state["ema"], state["model"]
    else:
        ema_state = next(v for k, v in state["lightning"]["callbacks"].items()
                         if "LightningEMA" in k)
        raw = {k.removeprefix("model.model."): v
               for k, v in state["lightning"]["state_dict"].items()}
    assert ema_state["updates"] == last["extra"]["step"]
    assert set(ema_state["weights"]) == set(last["state_dict"]) == set(raw)
    diff = max(float((raw[k].float() - v.float()).abs().max())
               for k, v in last["state_dict"].items())
    assert diff > 0
    model_pt = torch.load(out / "model.pt", weights_only=True)
    for k, v in best["state_dict"].items():  # model.pt = the best epoch's (EMA) weights
        torch.testing.assert_close(model_pt["state_dict"][k], v)
    for png in ("curves.png", "pr_curves.png", "confusion_matrix.png", "train_samples.png",
                "valid_predictions.png"):
        assert (out / png).stat().st_size > 5000, png

    again = run("train", "--data", str(data), "--out", str(out), *TINY, cwd=tmp_path)
    assert again.returncode == 2 and "holds an earlier run" in again.stderr
    assert "--resume" in again.stderr and len(again.stderr.strip().splitlines()) == 1


@pytest.mark.slow
@pytest.mark.parametrize("engine", engines())
def test_non_finite_loss_stops_with_one_line_and_exit_2(engine, data, tmp_path):
    out = tmp_path / "nan"
    proc = run("train", "--data", str(data), "--out", str(out), "--epochs", "2", "--lr", "1e30",
               "--engine", engine, *TINY, cwd=tmp_path)
    assert proc.returncode == 2, proc.stderr[-2000:]
    line = proc.stderr.strip().splitlines()[-1]
    assert "Traceback" not in proc.stderr
    assert line.startswith("efficientdet-adapter train: error: training loss is ")
    assert "in epoch 1, step " in line and "at learning rate " in line and "lower --lr" in line


@pytest.mark.slow
@pytest.mark.parametrize("engine", engines())
def test_ctrl_c_leaves_a_resumable_last_pt(engine, data, tmp_path):
    out = tmp_path / "int"
    # 9 train images in batches of 4 (the last dropped): 2 steps an epoch; a Ctrl-C (SIGINT)
    # right after step 3, in epoch 2 (the run core's test-only hook)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "EFFICIENTDET_ADAPTER_OFFLINE": "1",
           "PYTHONPATH": str(REPO), SIGNAL_AT_STEP_ENV: "3:INT"}
    proc = subprocess.Popen([sys.executable, "-m", "efficientdet_adapter", "train", "--data",
                             str(data), "--out", str(out), "--epochs", "20", "--engine",
                             engine, *TINY],
                            cwd=tmp_path, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True,
                            # a terminal's Ctrl-C: a suite started in the background (`pytest &`
                            # in a script) ignores SIGINT, and children inherit that
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 130, err[-2000:]
    assert "Traceback" not in err
    assert f"continue with: efficientdet-adapter train --resume {out}" in err.strip().splitlines()[-1]
    last = torch.load(out / "last.pt", weights_only=True)
    assert last["extra"]["train_state"]["run"]["epoch"] == 1


def test_train_help_shows_the_run_flags(capsys):
    from efficientdet_adapter.app.cli import main

    with pytest.raises(SystemExit):
        main(["train", "--help"])
    text = capsys.readouterr().out
    for flag in ("--resume RUN_DIR", "--exist-ok", "--patience N", "--ema", "--device",
                 "--precision {auto,32,16-mixed,bf16-mixed}", "--devices N", "--num-nodes N"):
        assert flag in text, flag


@pytest.mark.parametrize("command,python_defaults", [("train", "TrainOptions()"),
                                                     ("demo", "DEMO_OPTIONS")])
def test_train_help_defaults_are_the_python_api_defaults(command, python_defaults, capsys):
    import dataclasses

    from efficientdet_adapter.app.cli import build_parser, main
    from efficientdet_adapter.app.cli.training_flags import train_options as _options
    from efficientdet_adapter.app.runs import DEMO_NUM_IMAGES, DEMO_OPTIONS, TrainOptions

    expected = TrainOptions() if command == "train" else DEMO_OPTIONS
    args = build_parser().parse_args([command])
    assert _options(args) == expected  # every option, flag by flag
    with pytest.raises(SystemExit):
        main([command, "--help"])
    text = " ".join(capsys.readouterr().out.split())
    for flag, value in (("--model", expected.model_name), ("--img-size", expected.img_size),
                        ("--epochs", expected.epochs), ("--batch-size", expected.batch_size),
                        ("--lr", expected.lr), ("--engine", expected.engine),
                        ("--aug", expected.aug), ("--seed", expected.seed),
                        ("--device", expected.device), ("--precision", expected.precision),
                        ("--devices", expected.devices), ("--progress", expected.progress)):
        help_text = text.split(f" {flag} ", 1)[1].split(" --", 1)[0]
        assert f"(default: {value})" in help_text, (flag, help_text)
    if command == "demo":
        assert args.num_images == DEMO_NUM_IMAGES
    # the measured defaults (bench/real_data.py), unchanged by giving them one home
    assert dataclasses.astuple(TrainOptions())[:5] == ("tf_efficientdet_lite0", 256, 10, 8, 5e-3)
    assert (TrainOptions().aug, DEMO_OPTIONS.epochs, DEMO_NUM_IMAGES) == ("flip", 12, 240)
    assert DEMO_OPTIONS.lr == 1e-2  # the demo's own measured setting (README, "Real exports")


@pytest.mark.slow
def test_lightning_sanity_check_never_counts_as_an_epoch_or_best(tmp_path):
    pl = lightning_or_skip()
    from efficientdet_adapter import tfms
    from efficientdet_adapter.records.dataset import Dataset
    from efficientdet_adapter.app.demo import demo_class_map, demo_records
    from efficientdet_adapter.efficientdet import model as create_model
    from efficientdet_adapter.efficientdet import normalize_tfm
    from efficientdet_adapter.loop.dataloaders import train_dl, valid_dl
    ModelAdapter = model_adapter()
    from efficientdet_adapter.metrics import COCOMetric
    from efficientdet_adapter.engines.lightning.callbacks import LightningEMA, RunCheckpoint

    class Adapter(ModelAdapter):
        def configure_optimizers(self):
            return torch.optim.AdamW(self.parameters(), lr=1e-9)

    splits = demo_records(tmp_path / "demo", num_images=6, splits=(4 / 6, 2 / 6, 0))
    torch.manual_seed(0)
    model = create_model(model_name="tf_efficientdet_lite0", num_classes=len(demo_class_map()),
                         img_size=128, pretrained_backbone=False)
    tfm = tfms.A.Adapter([*tfms.A.resize_and_pad(128), normalize_tfm(model)])
    ema = LightningEMA()
    tracker = RunTracker(tmp_path / "run", demo_class_map(), tensorboard=False)
    trainer = pl.Trainer(accelerator="cpu", devices=1, max_epochs=1, logger=False,
                         enable_checkpointing=False, enable_progress_bar=False,
                         enable_model_summary=False, num_sanity_val_steps=2,
                         callbacks=[RunCheckpoint(tracker, seed=0, ema=ema), ema])
    trainer.fit(Adapter(model, metrics=[COCOMetric()]),
                train_dl(Dataset(splits["train"], tfm), batch_size=2, shuffle=True),
                valid_dl(Dataset(splits["valid"], tfm), batch_size=2))
    rows = read_metrics_csv(tmp_path / "run" / "metrics.csv")
    assert [r["epoch"] for r in rows] == [1]  # the sanity pass wrote no row ...
    assert tracker.state.epoch == 1 and tracker.state.step == 2
    best = torch.load(tmp_path / "run" / "best.pt", weights_only=True)
    assert best["extra"]["epoch"] == 1  # ... and no best.pt before the first real epoch
    assert ema.updates == 2  # the EMA saw the two training steps only


# -- what is checked before any work, and the pieces the slow runs cannot reach --------------
def test_fastai_with_more_than_one_device_points_to_lightning(tmp_path, capsys):
    from efficientdet_adapter.app.cli import main

    (tmp_path / "data").mkdir()
    rc = main(["train", "--data", str(tmp_path / "data"), "--out", str(tmp_path / "out"),
               "--devices", "2", "--device", "cpu"])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(err) == 1
    assert err[0] == ("efficientdet-adapter train: error: --devices 2 --num-nodes 1: the fastai "
                      "engine trains on one device; use --engine lightning for multi-GPU (DDP)")


@pytest.mark.parametrize("bf16,expected", [(True, "bf16-mixed"), (False, "16-mixed")])
def test_precision_auto_on_a_gpu(monkeypatch, bf16, expected):
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: bf16)
    assert resolve_precision("auto", "cuda") == expected
    assert resolve_precision("32", "cuda") == "32"


@pytest.mark.parametrize("command", [["train"], ["eval", "--data", "d", "--checkpoint", "c"],
                                     ["predict", "x.jpg", "--checkpoint", "c", "--out", "o"]])
def test_device_defaults_to_auto(command):
    from efficientdet_adapter.app.cli import build_parser

    assert build_parser().parse_args(command).device == "auto"


@pytest.fixture(scope="module")
def tiny_model():
    from efficientdet_adapter.model.model import model

    torch.manual_seed(0)
    return model(model_name="tf_efficientdet_lite0", num_classes=3, img_size=128,
                 pretrained_backbone=False)


def test_checkpoints_are_atomic_and_weights_only_loadable(tiny_model, tmp_path, monkeypatch):
    tracker = RunTracker(tmp_path, ClassMap(["a", "b"]), tensorboard=False)
    tracker.end_epoch(tiny_model, {"AP (IoU=0.50:0.95) area=all": 0.1}, train_state={"x": 1})
    before = {name: (tmp_path / name).read_bytes() for name in ("best.pt", "last.pt")}
    last = torch.load(tmp_path / "last.pt", weights_only=True)
    assert last["extra"]["train_state"]["run"]["epoch"] == 1 and last["extra"]["epoch"] == 1
    real_save = torch.save

    def killed_while_writing(obj, f, *args, **kwargs):
        real_save(obj, f, *args, **kwargs)
        f.truncate(100)  # half a file, then the process dies
        raise OSError("disk full")

    monkeypatch.setattr(torch, "save", killed_while_writing)
    with pytest.raises(OSError, match="disk full"):
        tracker.end_epoch(tiny_model, {"AP (IoU=0.50:0.95) area=all": 0.2}, train_state={})
    assert {name: (tmp_path / name).read_bytes() for name in before} == before  # old ones whole
    assert sorted(p.name for p in tmp_path.iterdir()) == ["best.pt", "last.pt", "metrics.csv"]


def _fastai_loss_at(epoch_done: int, out):
    pytest.importorskip("fastai")
    from types import SimpleNamespace

    from efficientdet_adapter.engines.fastai.callbacks import NonFiniteLossCallback

    tracker = RunTracker(out, None, tensorboard=False)
    tracker.state.epoch, tracker.state.step = epoch_done, 4 * epoch_done + 2
    cb = NonFiniteLossCallback(tracker)
    cb.learn = SimpleNamespace(training=True, loss=torch.tensor(float("nan")), epoch=epoch_done,
                               train_iter=tracker.state.step, iter=2,
                               opt=SimpleNamespace(hypers=[{"lr": 1e-3}]))
    cb.after_loss()


def _lightning_loss_at(epoch_done: int, out):
    lightning_or_skip()
    from types import SimpleNamespace

    from efficientdet_adapter.engines.lightning.callbacks import NonFiniteLoss

    tracker = RunTracker(out, None, tensorboard=False)
    tracker.state.epoch = epoch_done
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1e-3)
    trainer = SimpleNamespace(current_epoch=epoch_done, global_step=4 * epoch_done + 2,
                              optimizers=[opt])
    NonFiniteLoss(tracker).on_before_backward(trainer, None, torch.tensor(float("inf")))


@pytest.mark.parametrize("loss_at", [_fastai_loss_at, _lightning_loss_at])
@pytest.mark.parametrize("epoch_done,kept", [
    (0, "no epoch finished, so no checkpoint was kept"),
    (2, "last.pt keeps epoch 2"),
])
def test_non_finite_loss_names_epoch_step_lr_and_the_checkpoint_kept(loss_at, epoch_done, kept,
                                                                     tmp_path):
    from efficientdet_adapter.base.errors import TrainingError

    with pytest.raises(TrainingError) as info:
        loss_at(epoch_done, tmp_path)
    message = str(info.value)
    assert "\n" not in message
    assert f"in epoch {epoch_done + 1}, step {4 * epoch_done + 3}" in message
    assert "at learning rate 0.001" in message and kept in message and "lower --lr" in message


def test_the_command_line_starts_without_importing_effdet():
    """effdet's import warns about torch.jit on stderr; the CLI imports it inside
    ``_check_training_args``, which silences that warning, so a refusal stays one line."""
    code = "import sys, efficientdet_adapter.app.cli; print('effdet' in sys.modules)"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.run([sys.executable, "-W", "error::FutureWarning", "-c", code], env=env,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip() == "False"


def test_aug_choices_are_the_tfms_presets():
    """``--aug`` lists ``tfms.A.AUG_PRESETS`` (the CLI keeps albumentations out of its import)."""
    from efficientdet_adapter.app.cli import build_parser
    from efficientdet_adapter.base.errors import UsageError
    from efficientdet_adapter.tfms import A

    train = build_parser()._subparsers._group_actions[0].choices["train"]
    [aug] = [a for a in train._actions if "--aug" in a.option_strings]
    assert tuple(aug.choices) == A.AUG_PRESETS
    assert [type(t).__name__ for t in A.aug_preset(128, "flip")] == [
        "LongestMaxSize", "PadIfNeeded", "HorizontalFlip"]
    with pytest.raises(UsageError, match="--aug 'crop': choose one of full, flip, scale, none"):
        A.aug_preset(128, "crop")
