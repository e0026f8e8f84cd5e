"""The command line, run as a user runs it: real subprocesses on tiny generated data."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from efficientdet_adapter.demo import write_demo_dataset

COMMANDS = ["train", "eval", "predict", "export", "demo"]
TINY = ["--epochs", "1", "--img-size", "128", "--batch-size", "4", "--threads", "1"]
COCO_KEYS = ["AP (IoU=0.50:0.95) area=all", "AP (IoU=0.50) area=all",
             "AR (IoU=0.50:0.95) area=all maxDets=100"]


def run(*args: str, cwd: Path | None = None, timeout: int = 600) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "EFFICIENTDET_ADAPTER_OFFLINE": "1"}
    repo = str(Path(__file__).resolve().parents[1])
    env["PYTHONPATH"] = repo + os.pathsep + env.get("PYTHONPATH", "")
    return subprocess.run([sys.executable, "-m", "efficientdet_adapter", *args], cwd=cwd,
                          env=env, capture_output=True, text=True, timeout=timeout)


def assert_user_error(proc: subprocess.CompletedProcess, pattern: str) -> None:
    import re

    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert "Traceback" not in proc.stderr
    assert re.search(pattern, lines[-1]), lines[-1]


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    return write_demo_dataset(tmp_path_factory.mktemp("data") / "shapes", num_images=20, seed=1)


@pytest.fixture(scope="module")
def trained(data, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("runs") / "shapes"
    proc = run("train", "--data", str(data), "--out", str(out), *TINY)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "COCOMetric on 4 valid images" in proc.stdout
    return out


@pytest.mark.parametrize("command", [None, *COMMANDS])
def test_help(command):
    proc = run(*([command] if command else []), "--help")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("usage: efficientdet-adapter")
    if command is None:
        assert all(c in proc.stdout for c in COMMANDS)
    if command in ("train", "demo"):
        assert "--engine {fastai,lightning}" in proc.stdout and "--pretrained-backbone" in proc.stdout


@pytest.mark.slow
def test_train_writes_the_run(trained):
    assert {p.name for p in trained.iterdir()} >= {
        "model.pt", "metrics.json", "loss.png", "valid_predictions.png"}
    metrics = json.loads((trained / "metrics.json").read_text())
    [epoch] = metrics["epochs"]
    assert epoch["epoch"] == 1 and np.isfinite(epoch["train_loss"]) and epoch["valid_loss"] > 0
    assert 0 <= epoch["AP50"] <= 1
    assert set(COCO_KEYS) <= set(metrics["final"]["valid"])
    for png in ("loss.png", "valid_predictions.png"):
        with Image.open(trained / png) as im:
            assert im.format == "PNG" and im.width >= 300

    from efficientdet_adapter.checkpoint import model_from_checkpoint

    model, class_map, config = model_from_checkpoint(trained / "model.pt")
    assert class_map.foreground == ["circle", "square", "star", "triangle"]
    assert config.img_size == (128, 128) and config.model_name == "tf_efficientdet_lite0"


@pytest.mark.slow
def test_predict_writes_images_and_coco_results(trained, data, tmp_path):
    images = sorted((data / "test").glob("*.jpg")) + sorted((data / "valid").glob("*.jpg"))[:1]
    out = tmp_path / "preds"
    proc = run("predict", str(data / "test"), str(images[-1]), "--checkpoint",
               str(trained / "model.pt"), "--out", str(out), "--threshold", "0.0")
    assert proc.returncode == 0, proc.stderr[-3000:]
    index = json.loads((out / "images.json").read_text())
    assert [Path(i["file_name"]).name for i in index] == [p.name for p in images]
    results = json.loads((out / "predictions.json").read_text())
    assert results and {r["image_id"] for r in results} <= {i["id"] for i in index}
    sizes = {i["id"]: (i["width"], i["height"]) for i in index}
    for r in results:
        x, y, w, h = r["bbox"]
        width, height = sizes[r["image_id"]]
        assert 0 <= x <= x + w <= width + 1e-3 and 0 <= y <= y + h <= height + 1e-3
        assert 1 <= r["category_id"] <= 4 and 0 <= r["score"] <= 1
    for image in images:  # annotated copies keep the original size
        with Image.open(image) as src, Image.open(out / f"{image.stem}.png") as drawn:
            assert drawn.size == src.size


@pytest.mark.slow
def test_eval_prints_and_writes_coco_metric(trained, data, tmp_path):
    out = tmp_path / "metrics.json"
    proc = run("eval", "--data", str(data), "--checkpoint", str(trained / "model.pt"),
               "--split", "test", "--out", str(out))
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "COCOMetric on 2 test images" in proc.stdout
    metrics = json.loads(out.read_text())
    assert set(COCO_KEYS) <= set(metrics) and all(-1 <= v <= 1 for v in metrics.values())


@pytest.mark.slow
def test_export_onnx_and_torchscript_refusal(trained, tmp_path):
    ort = pytest.importorskip("onnxruntime")
    out = tmp_path / "model.onnx"
    proc = run("export", "--checkpoint", str(trained / "model.pt"), "--format", "onnx",
               "--out", str(out))
    assert proc.returncode == 0, proc.stderr[-3000:]
    sess = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    boxes, scores, classes = sess.run(None, {"images": np.zeros((2, 3, 128, 128), np.float32)})
    assert boxes.shape[:2] == scores.shape == classes.shape and boxes.shape[0] == 2

    proc = run("export", "--checkpoint", str(trained / "model.pt"), "--format", "torchscript",
               "--out", str(tmp_path / "model.ts"))
    assert_user_error(proc, r"export: error: tf_efficientdet_lite0 cannot be exported to "
                            r"TorchScript.*bifpn_sum.*export_onnx")


@pytest.mark.parametrize(
    "args,pattern",
    [
        (["train", "--data", "no/such/folder"], r"train: error: --data no/such/folder: no such"),
        (["predict", "missing.jpg", "--checkpoint", "x.pt", "--out", "o"],
         r"predict: error: missing\.jpg: no such image file or folder"),
        (["export", "--checkpoint", "nope.pt"], r"export: error: nope\.pt: checkpoint file not found"),
        (["train"], r"the following arguments are required: --data"),
    ],
)
def test_user_errors_are_one_line(args, pattern, tmp_path):
    assert_user_error(run(*args, cwd=tmp_path), pattern)


def test_unreadable_checkpoint_and_empty_folder(tmp_path):
    (tmp_path / "bad.pt").write_bytes(b"junk")
    (tmp_path / "empty").mkdir()
    Image.new("RGB", (32, 32)).save(tmp_path / "a.png")
    proc = run("predict", "a.png", "--checkpoint", "bad.pt", "--out", "o", cwd=tmp_path)
    assert_user_error(proc, r"bad\.pt: not a readable PyTorch checkpoint")
    proc = run("predict", "empty", "--checkpoint", "bad.pt", "--out", "o", cwd=tmp_path)
    assert_user_error(proc, r"empty: no images")


@pytest.mark.slow
def test_train_with_lightning(data, tmp_path):
    pytest.importorskip("pytorch_lightning")
    out = tmp_path / "light"
    proc = run("train", "--data", str(data), "--out", str(out), "--engine", "lightning",
               "--pretrained-backbone", "none", *TINY)
    assert proc.returncode == 0, proc.stderr[-3000:]
    [epoch] = json.loads((out / "metrics.json").read_text())["epochs"]
    assert epoch["epoch"] == 1 and epoch["train_loss"] > 0 and epoch["val_loss"] > 0
    assert 0 <= epoch["COCOMetric/AP (IoU=0.50) area=all"] <= 1
    assert (out / "model.pt").stat().st_size > 1_000_000


@pytest.mark.slow
def test_demo_end_to_end(tmp_path):
    out = tmp_path / "demo"
    proc = run("demo", "--out", str(out), "--num-images", "20", *TINY)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "COCOMetric on 2 held-out demo images" in proc.stdout
    assert "AP (IoU=0.50) area=all" in proc.stdout
    final = json.loads((out / "metrics.json").read_text())["final"]
    assert set(COCO_KEYS) <= set(final["test"]) and final["train_seconds"] > 0
    preds = out / "predictions"
    assert len(list(preds.glob("*.png"))) == 2 and (preds / "predictions.json").is_file()
    assert (out / "data" / "train" / "_annotations.coco.json").is_file()
