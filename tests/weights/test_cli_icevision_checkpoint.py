"""The CLI's predict, eval and export on IceVision 0.12 checkpoint files (``meta`` +
``state_dict``, written here with ``torch.save`` as mmcv wrote them): real subprocesses."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from efficientdet_adapter.app.demo import write_demo_dataset

CLASSES = ["background", "circle", "square", "star", "triangle"]  # the demo data's classes
META = {"model_name": "ross.efficientdet", "backbone_name": "tf_lite0", "img_size": 128,
        "classes": CLASSES, "mmcv_version": "1.3.17", "icevision_version": "0.12.0"}


def run(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "EFFICIENTDET_ADAPTER_OFFLINE": "1"}
    env["PYTHONPATH"] = str(Path(__file__).resolve().parents[1]) + os.pathsep + env.get(
        "PYTHONPATH", "")
    return subprocess.run([sys.executable, "-m", "efficientdet_adapter", *args], env=env,
                          capture_output=True, text=True, timeout=300)


def one_line_error(proc: subprocess.CompletedProcess) -> str:
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert "Traceback" not in proc.stderr
    return proc.stderr.strip().splitlines()[-1]


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    return write_demo_dataset(tmp_path_factory.mktemp("data") / "shapes", num_images=20, seed=1)


@pytest.fixture(scope="module")
def model():
    from efficientdet_adapter import efficientdet

    torch.manual_seed(0)
    return efficientdet.model(model_name="tf_efficientdet_lite0", num_classes=len(CLASSES),
                              img_size=128, pretrained_backbone=False).eval()


def icevision_file(path: Path, model, **meta) -> Path:
    """An IceVision 0.12 file: the bench's weights (``model.`` names, effdet's anchor boxes)."""
    state = {k: v.clone() for k, v in model.state_dict().items()}
    state["anchors.boxes"] = torch.zeros(3069, 4)
    torch.save({"meta": {**META, **meta}, "state_dict": state,
                "optimizer": {"state": {}, "param_groups": []}}, path)
    return path


@pytest.fixture(scope="module")
def ice(model, tmp_path_factory) -> Path:
    return icevision_file(tmp_path_factory.mktemp("ice") / "fridge.pth", model)


def test_predict_on_an_icevision_file(ice, data, model, tmp_path):
    from efficientdet_adapter.records.dataset import Dataset
    from efficientdet_adapter.inference.prediction import inference_tfm, predict

    images = sorted((data / "test").glob("*.jpg"))
    out = tmp_path / "preds"
    proc = run("predict", *map(str, images), "--checkpoint", str(ice), "--out", str(out),
               "--threshold", "0.0", "--no-images")
    assert proc.returncode == 0, proc.stderr[-3000:]
    results = json.loads((out / "predictions.json").read_text())
    # the same boxes as the model that wrote the file, predicted in this process
    ds = Dataset.from_images(images, inference_tfm(model))
    preds = predict(model, ds, detection_threshold=0.0)
    assert len(results) == sum(len(p) for p in preds) > 0
    best = max(results, key=lambda r: r["score"])
    top = max((float(s), p) for p in preds for s in p.scores)[0]
    assert best["score"] == pytest.approx(top, abs=1e-4)
    assert {r["category_id"] for r in results} <= {1, 2, 3, 4}


@pytest.mark.slow
def test_eval_and_export_on_an_icevision_file(ice, data, tmp_path):
    proc = run("eval", "--data", str(data), "--checkpoint", str(ice), "--split", "test",
               "--out", str(tmp_path / "m.json"))
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "COCOMetric on 2 test images" in proc.stdout
    assert "AP (IoU=0.50) area=all" in json.loads((tmp_path / "m.json").read_text())
    pytest.importorskip("onnx")
    proc = run("export", "--checkpoint", str(ice), "--format", "onnx",
               "--out", str(tmp_path / "m.onnx"))
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert (tmp_path / "m.onnx").stat().st_size > 1_000_000


@pytest.mark.parametrize(
    "command, meta, message",
    [
        ("predict", {"img_size": 10**6}, r"meta\.img_size=1000000 is not an image size"),
        ("predict", {"img_size": "128"}, r"meta\.img_size='128' is not an image size \(a string, "
         r"not a number\); .*or write a valid meta\.img_size into the file$"),  # no --img-size
        ("predict", {"backbone_name": "BackboneSpec"},
         r"meta\.backbone_name='BackboneSpec' is not one of efficientdet\.backbones"),
        ("eval", {"classes": "circle"}, r"meta\.classes must be a non-empty list of class names"),
        ("export", {"model_name": "mmdet.retinanet"},
         r"meta\.model_name='mmdet\.retinanet': this library rebuilds EfficientDet models only"),
    ],
)
def test_a_bad_meta_is_one_line_naming_file_and_field(command, meta, message, model, data,
                                                      tmp_path):
    bad = icevision_file(tmp_path / "bad.pth", model, **meta)
    args = {"predict": ["predict", str(data / "test"), "--out", str(tmp_path / "o")],
            "eval": ["eval", "--data", str(data)],
            "export": ["export", "--out", str(tmp_path / "m.onnx")]}[command]
    line = one_line_error(run(*args, "--checkpoint", str(bad)))
    assert str(bad) in line
    import re

    assert re.search(message, line), line
