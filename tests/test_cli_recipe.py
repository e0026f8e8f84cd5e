"""``train --time``, ``--anchors auto``, ``--img-size auto`` and the per-class lines, run as a user
runs them: real subprocesses on tiny generated data (and the shared real exports where present)."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from efficientdet_adapter.app.demo import write_demo_dataset
from efficientdet_adapter.engines.core import SIGNAL_AT_STEP_ENV
from efficientdet_adapter.training.csvlog import read_metrics_csv
from cli_output import dependency_warnings

REPO = Path(__file__).resolve().parents[1]
REAL = REPO.parent / "shared" / "data" / "real-exports"
needs_real = pytest.mark.skipif(not REAL.is_dir(),
                                reason=f"shared real exports not found at {REAL}")
TINY = ["--img-size", "128", "--batch-size", "4", "--threads", "1", "--progress", "lines"]
BUDGET = 20  # seconds
MARGIN = 20  # seconds: one epoch past a plan the machine's load made wrong, and the start-up


def env() -> dict[str, str]:
    return {**os.environ, "OMP_NUM_THREADS": "1", "EFFICIENTDET_ADAPTER_OFFLINE": "1",
            "PYTHONPATH": str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", "")}


def run(*args: str, timeout: int = 600) -> subprocess.CompletedProcess:
    proc = subprocess.run([sys.executable, "-m", "efficientdet_adapter", *args], env=env(),
                          capture_output=True, text=True, timeout=timeout)
    assert dependency_warnings(proc.stdout + proc.stderr) == [], proc.stderr[-2000:]
    return proc


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    return write_demo_dataset(tmp_path_factory.mktemp("data") / "shapes", num_images=20, seed=1)


@pytest.fixture(scope="module")
def budget_run(data, tmp_path_factory) -> tuple[Path, subprocess.CompletedProcess]:
    out = tmp_path_factory.mktemp("runs") / "budget"
    proc = run("train", "--data", str(data), "--out", str(out), "--time", f"{BUDGET}s",
               "--anchors", "auto", *TINY)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return out, proc


def planned_epochs(stdout: str) -> int:
    found = re.search(rf"--time {BUDGET} s: a step takes ~[\d.]+ s here \(3 steps an epoch, "
                      r"then validation ~[\d.]+ s and checkpoints ~[\d.]+ s; probed in [\d.]+ "
                      r"s\): \d+ steps, (\d+) epochs?, planned again at each epoch", stdout)
    assert found, stdout[-3000:]
    return int(found.group(1))


@pytest.mark.slow
def test_time_budget_plans_the_steps_records_them_and_ends_in_time(budget_run):
    out, proc = budget_run
    assert 1 <= planned_epochs(proc.stdout) <= 300  # the probe's plan; the clock plans again
    final = torch.load(out / "model.pt", weights_only=True)["extra"]["metrics"]
    rows = read_metrics_csv(out / "metrics.csv")
    assert final["epochs"] == len(rows) and final["time_budget_s"] == BUDGET
    assert final["train_seconds"] <= BUDGET + MARGIN
    last = torch.load(out / "last.pt", weights_only=True)["extra"]
    assert last["options"]["epochs"] == 300 and last["options"]["time"] == BUDGET  # the cap
    clock = last["time_budget"]["clock"]
    assert clock["total_steps"] == rows[-1]["step"] and last["time_budget"]["budget_s"] == BUDGET
    assert last["time_budget"]["steps_per_epoch"] == 3  # 14 train images, batches of 4
    assert rows[-1]["lr"] == pytest.approx(5e-3 / 1e5, rel=1e-4)  # annealed at the last step


@pytest.mark.slow
def test_train_ends_with_per_class_ap_and_ap50(budget_run):
    _, proc = budget_run
    tail = proc.stdout.strip().splitlines()[-6:]
    assert tail[0] == ("per class on 4 valid images (COCO AP over IoU 0.50:0.95, and AP at IoU "
                       "0.50):")
    assert tail[1].split() == ["class", "boxes", "AP", "AP50"]
    rows = [line.split() for line in tail[2:]]
    assert [r[0] for r in rows] == ["circle", "square", "star", "triangle"]
    assert sum(int(r[1]) for r in rows) == 9  # the valid split's boxes
    for r in rows:
        ap, ap50 = float(r[2]), float(r[3])
        assert 0 <= ap <= ap50 <= 1


@pytest.mark.slow
def test_eval_scores_the_test_split_per_class(budget_run, data):
    out, _ = budget_run
    proc = run("eval", "--data", str(data), "--checkpoint", str(out / "model.pt"), "--split",
               "test", "--device", "cpu")
    assert proc.returncode == 0, proc.stderr[-3000:]
    lines = proc.stdout.splitlines()
    assert lines[0] == "COCOMetric on 2 test images:"
    at = lines.index("per class on 2 test images (COCO AP over IoU 0.50:0.95, and AP at IoU "
                     "0.50):")
    rows = [line.split() for line in lines[at + 2:]]
    assert [r[0] for r in rows] == ["circle", "square", "star", "triangle"]
    boxes = {r[0]: int(r[1]) for r in rows}
    from efficientdet_adapter.app.runs import load_splits

    _, _, test, _, _ = load_splits(data)
    assert sum(boxes.values()) == sum(len(r.bboxes) for r in test) > 0
    for r in rows:  # a class without a test box is undefined, not zero
        assert (r[2], r[3]) == ("-", "-") if boxes[r[0]] == 0 else 0 <= float(r[3]) <= 1


@pytest.mark.slow
def test_fitted_anchors_are_in_every_checkpoint_and_used_at_predict_and_export(budget_run, data,
                                                                              tmp_path):
    from effdet.anchors import Anchors

    from efficientdet_adapter.checkpoint import load_model

    out, proc = budget_run
    found = re.search(r"--anchors auto: best possible recall ([\d.]+)% -> ([\d.]+)% \(anchor_scale"
                      r" 3, .*-> anchor_scale ([\d.]+), aspect_ratios", proc.stdout)
    assert found, proc.stdout[:2000]
    before, after, scale = map(float, found.groups())
    assert after > before and scale != 3.0
    saved = torch.load(out / "last.pt", weights_only=True)["extra"]["options"]["anchor_settings"]
    assert saved["anchor_scale"] == scale and len(saved["aspect_ratios"]) == 3
    for name in ("model.pt", "best.pt", "last.pt"):
        model, _, config = load_model(out / name)
        assert config.effdet_kwargs == saved, name
        expected = Anchors(3, 7, 3, [tuple(r) for r in saved["aspect_ratios"]], scale, (128, 128))
        assert torch.equal(model.anchors.boxes, expected.boxes), name
    preds = tmp_path / "preds"
    proc = run("predict", str(data / "test"), "--checkpoint", str(out / "model.pt"), "--out",
               str(preds), "--no-images", "--threshold", "0.0", "--device", "cpu")
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert json.loads((preds / "images.json").read_text())  # the test images were predicted
    onnx = tmp_path / "model.onnx"
    proc = run("export", "--checkpoint", str(out / "model.pt"), "--out", str(onnx))
    assert proc.returncode == 0, proc.stderr[-2000:]
    from efficientdet_adapter.model.onnx_model import load_onnx
    from efficientdet_adapter.inference.prediction import detect
    from efficientdet_adapter.checkpoints.export import OnnxDetectionHead

    model, _, _ = load_model(out / "model.pt")  # the one exported
    head = OnnxDetectionHead(model, (128, 128)).eval()
    assert torch.equal(head.anchors, expected.boxes)  # the exported decoder's anchors: fitted
    pixels = torch.randint(0, 256, (2, 3, 128, 128), generator=torch.Generator().manual_seed(0))
    ours = load_onnx(onnx)(pixels.float()).numpy()  # the graph normalizes; effdet's rows out
    mean = torch.tensor(model.config.mean).view(1, 3, 1, 1)
    std = torch.tensor(model.config.std).view(1, 3, 1, 1)
    ref = detect(model.eval(), (pixels / 255 - mean) / std).numpy()
    # the 10 best detections per image (lower ones may tie in score and swap places)
    np.testing.assert_allclose(ours[:, :10], ref[:, :10], atol=1e-3)
    assert (ours[:, :10, 4] > 0).all()


@pytest.mark.slow
def test_resume_keeps_the_budgets_epochs(data, tmp_path):
    out = tmp_path / "resumed"
    args = [sys.executable, "-m", "efficientdet_adapter", "train", "--data", str(data), "--out",
            str(out), "--time", "300", "--epochs", "3", *TINY]
    # 14 train images in batches of 4: 3 steps an epoch; a Ctrl-C right after step 4, in
    # epoch 2 (the run core's test-only hook)
    proc = subprocess.Popen(args, env={**env(), SIGNAL_AT_STEP_ENV: "4:INT"},
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    stdout, _ = proc.communicate(timeout=300)
    assert "(--epochs 3 caps the budget's epochs)" in stdout  # 300 s would give more
    done = torch.load(out / "last.pt", weights_only=True)["extra"]
    assert done["options"]["epochs"] == 3 and done["train_state"]["run"]["epoch"] == 1
    proc = run("train", "--resume", str(out))
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "for the epochs that fit what is left of --time 300 s (at most 3)" in proc.stdout
    assert "a step takes" not in proc.stdout  # not probed again: the clock goes on
    assert [r["epoch"] for r in read_metrics_csv(out / "metrics.csv")] == [1, 2, 3]


@pytest.mark.parametrize("text, seconds", [("600", 600), ("600s", 600), ("10m", 600),
                                           ("1h", 3600), ("1h30m", 5400), ("2.5m", 150)])
def test_time_forms(text, seconds):
    from efficientdet_adapter.app.cli import build_parser

    args = build_parser().parse_args(["train", "--data", "x", "--time", text])
    assert args.time == seconds


@pytest.mark.parametrize("value", ["0", "-5m", "ten minutes", "10x", "m"])
def test_bad_time_is_one_line_and_exit_2(value):
    proc = run("train", "--data", "x", f"--time={value}")
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert f"argument --time: {value!r} is not a duration above zero" in proc.stderr


def test_help_says_how_time_and_epochs_combine():
    proc = run("train", "--help")
    text = " ".join(proc.stdout.split())
    assert "--time DURATION" in text and "--epochs caps them" in text
    assert "with --time, the most epochs the budget may fit (default then: 300)" in text
    assert "--anchors {default,auto}" in text and "or auto: the smallest size from 256" in text


# -- --img-size auto / --anchors auto on the shared real exports ----------------------------------
@needs_real
@pytest.mark.parametrize("export, size", [("brain_mri_coco", 384), ("metin2_game_tfcsv", 512),
                                          ("pothole_yolov5", 768)])
def test_auto_size_and_anchors_on_the_real_exports(export, size):
    from efficientdet_adapter.training.auto_options import resolve_auto_options
    from efficientdet_adapter.model.anchor_fit import (AnchorSettings, anchor_match,
                                                              input_boxes)
    from efficientdet_adapter.app.runs import TrainOptions, load_splits

    train, *_ = load_splits(REAL / export)
    opts = TrainOptions(img_size="auto", anchors="auto")
    lines = resolve_auto_options(opts, train)
    assert opts.img_size == size and lines[0].startswith(f"--img-size auto: {size} px")
    boxes = input_boxes(train, size)
    default = anchor_match(boxes, opts.model_name, size)
    smaller = anchor_match(input_boxes(train, size - 128), opts.model_name, size - 128)
    # the smallest size reaching 95% (brain, metin2), or the best below the cap (pothole:
    # 720 px images cap it at 768, and its thin boxes stay at 92%)
    assert default.share >= 0.95 or size == 768
    assert size == 256 or smaller.share < 0.95
    settings = AnchorSettings.from_effdet_kwargs(opts.model_name, opts.anchor_settings)
    fitted = anchor_match(boxes, opts.model_name, size, settings)
    assert fitted.share >= default.share
    assert lines[1].startswith("--anchors auto: ")


@needs_real
def test_check_cli_prints_the_best_possible_recall_of_the_pothole_set():
    proc = run("check", "--data", str(REAL / "pothole_yolov5"), "--img-size", "256")
    assert proc.returncode == 0, proc.stderr[-2000:]
    found = re.search(r"best possible recall at --img-size 256: ([\d.]+)% \((\d+) of (\d+) train "
                      r"boxes", proc.stdout)
    assert found, proc.stdout[-2000:]
    assert float(found.group(1)) == pytest.approx(72.5, abs=0.1)
    assert "matched boxes by the level of their best anchor: P3 (24-38 px): " in proc.stdout
    assert "train with --img-size auto and/or --anchors auto" in proc.stdout


def test_time_is_refused_for_multi_device_training(data, tmp_path):
    proc = run("train", "--data", str(data), "--out", str(tmp_path / "r"), "--time", "1m",
               "--devices", "2", "--engine", "lightning", "--device", "cpu")
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "give --epochs for multi-device training" in proc.stderr.strip().splitlines()[-1]


@pytest.mark.slow
def test_auto_img_size_is_the_checkpoints_size(data, tmp_path):
    out = tmp_path / "auto"
    proc = run("train", "--data", str(data), "--out", str(out), "--img-size", "auto",
               "--epochs", "1", "--batch-size", "4", "--threads", "1", "--progress", "lines")
    assert proc.returncode == 0, proc.stderr[-3000:]
    # demo images are 161-313 px: 256 is the floor, and every box has an anchor there
    assert ("--img-size auto: 256 px (best possible recall 100.0% reaches 95%; candidates: "
            "multiples of 128 from 256 to 384, the smaller of 1024 and the largest image side "
            "rounded up)") in proc.stdout
    assert "training tf_efficientdet_lite0 at 256 px for 1 epochs" in proc.stdout
    for name in ("model.pt", "last.pt"):
        saved = torch.load(out / name, weights_only=True)
        assert saved["img_size"] == [256, 256], name
    assert torch.load(out / "last.pt", weights_only=True)["extra"]["options"]["img_size"] == 256


@pytest.mark.slow
def test_time_budget_with_lightning(data, tmp_path):
    out = tmp_path / "light"
    proc = run("train", "--data", str(data), "--out", str(out), "--time", "30", "--epochs", "2",
               "--engine", "lightning", *TINY)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert re.search(r"--time 30 s: a step takes ~[\d.]+ s here .*: 6 steps, 2 epochs, planned "
                     r"again at each epoch from its measured time \(--epochs 2 caps the "
                     r"budget's epochs\)", proc.stdout), proc.stdout[-2000:]
    final = torch.load(out / "model.pt", weights_only=True)["extra"]["metrics"]
    assert final["epochs"] == 2 and len(read_metrics_csv(out / "metrics.csv")) == 2
    last = torch.load(out / "last.pt", weights_only=True)["extra"]
    assert last["options"]["epochs"] == 2 and last["time_budget"]["capped_by"] == 2
    assert last["time_budget"]["clock"]["total_steps"] == 6


@needs_real
def test_check_cli_with_auto_size_reports_at_the_size_train_picks():
    proc = run("check", "--data", str(REAL / "metin2_game_tfcsv"), "--img-size", "auto")
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "tf_efficientdet_lite0 at --img-size 512: smallest anchor 24 px" in proc.stdout
    found = re.search(r"best possible recall at --img-size 512: ([\d.]+)%", proc.stdout)
    assert found and float(found.group(1)) >= 95.0
