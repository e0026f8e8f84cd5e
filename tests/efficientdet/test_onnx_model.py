"""The self-contained ONNX export run by ONNX Runtime: its contract, its metadata, and predictions
and COCO scores equal to the PyTorch model's on real JPEG files of several sizes."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from efficientdet_adapter.records.class_map import ClassMap
from efficientdet_adapter.records.dataset import Dataset
from efficientdet_adapter.app.demo import write_demo_dataset
from efficientdet_adapter.efficientdet import inference_tfm, load_onnx, predict
from efficientdet_adapter.base.errors import BatchError, CheckpointError
from efficientdet_adapter.checkpoints.export import export_onnx

pytest.importorskip("onnxruntime")

IMG = 128
NAMES = ["circle", "square", "star", "triangle"]  # the demo's classes
# The tolerances these tests state: ONNX Runtime's float32 kernels differ from PyTorch's by
# rounding only (measured: at most 1.2e-3 px on boxes of 230-310 px images, 1e-6 on scores).
BOX_PX = 0.01
SCORE = 1e-4
AP = 1e-4


def tiny_model(seed: int = 0):
    """An untrained lite0 at 128 px, its class head randomized: distinct scores, many boxes."""
    from efficientdet_adapter.model.model import model as build_model

    torch.manual_seed(seed)
    model = build_model(model_name="tf_efficientdet_lite0", num_classes=len(NAMES) + 1,
                        img_size=IMG)
    with torch.no_grad():
        for p in model.model.class_net.predict.parameters():
            p.normal_(0.0, 0.3)
    return model.eval()


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    return write_demo_dataset(tmp_path_factory.mktemp("demo") / "shapes", num_images=10, seed=1)


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    model = tiny_model()
    path = export_onnx(model, tmp_path_factory.mktemp("onnx") / "model.onnx",
                       class_map=ClassMap(NAMES), category_ids={1: 10, 2: 11, 3: 12, 4: 13})
    return model, path


def test_metadata_holds_names_size_normalization_model_and_version(exported):
    import onnx

    import efficientdet_adapter

    _, path = exported
    props = {p.key: p.value for p in onnx.load(str(path)).metadata_props}
    assert props["format"] == "efficientdet_adapter.onnx" and props["format_version"] == "1"
    assert json.loads(props["names"]) == NAMES
    assert json.loads(props["img_size"]) == [IMG, IMG]
    assert json.loads(props["mean"]) == [0.5, 0.5, 0.5] == json.loads(props["std"])  # lite
    assert props["model_name"] == "tf_efficientdet_lite0"
    assert props["library_version"] == efficientdet_adapter.__version__
    assert json.loads(props["category_ids"]) == {"1": 10, "2": 11, "3": 12, "4": 13}
    assert props["max_detections"] == "100" and props["iou_threshold"] == "0.5"

    loaded = load_onnx(path)
    assert loaded.class_map == ClassMap(NAMES) and loaded.img_size == (IMG, IMG)
    assert loaded.category_ids == {1: 10, 2: 11, 3: 12, 4: 13}


def test_graph_contract_uint8_in_padded_detections_out(tmp_path):
    """Boxes all decoded to the whole input: NMS keeps one per class, the rest is padding.
    Exported at opset 11."""
    import onnx
    import onnxruntime as ort

    model = tiny_model()
    with torch.no_grad():  # (ty, tx, th, tw) = (0, 0, 10, 10) for every anchor: huge boxes
        model.model.box_net.predict.conv_pw.weight.zero_()
        model.model.box_net.predict.conv_pw.bias.copy_(torch.tensor([0.0, 0, 10, 10]).repeat(9))
    path = export_onnx(model, tmp_path / "model.onnx", class_map=ClassMap(NAMES), max_det=10,
                       opset=11)  # the lowest opset `export --opset` takes
    graph = onnx.load(str(path)).graph
    assert [n.op_type for n in graph.node].count("NonMaxSuppression") == 1
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    assert [(i.name, i.type) for i in session.get_inputs()] == [("images", "tensor(uint8)")]
    images = np.random.default_rng(0).integers(0, 256, (3, IMG, IMG, 3), dtype=np.uint8)
    boxes, scores, classes, count = session.run(None, {"images": images})  # exported at batch 1
    assert boxes.shape == (3, 10, 4) and scores.shape == classes.shape == (3, 10)
    assert count.tolist() == [4, 4, 4]  # one box per class survives
    assert (np.sort(classes[:, :4], axis=1) == [0, 1, 2, 3]).all()
    assert (boxes[:, :4] == [0, 0, IMG, IMG]).all() and (scores[:, :4] > 0).all()
    assert (classes[:, 4:] == -1).all() and (scores[:, 4:] == 0).all() and (boxes[:, 4:] == 0).all()
    assert (np.diff(scores[:, :4], axis=1) <= 0).all()  # best first
    ds = Dataset.from_images([np.asarray(i) for i in images], inference_tfm(model))
    torch_preds = predict(model, ds, detection_threshold=0.0, device="cpu")
    assert [len(p.scores) for p in torch_preds] == [4, 4, 4]  # effdet keeps the same four


def _sorted(pred):
    order = np.lexsort((pred.boxes[:, 1], pred.boxes[:, 0], pred.label_ids))
    return pred.boxes[order], pred.scores[order], pred.label_ids[order]


def test_predict_with_onnx_runtime_matches_pytorch(exported, demo):
    """Three real JPEG files of 230-306 px (resized and padded to 128): the ONNX path's
    detections, in original pixels, are PyTorch's within BOX_PX and SCORE, same classes."""
    model, path = exported
    files = sorted(demo.rglob("*.jpg"))[:3]
    onnx_model = load_onnx(path)
    ref = predict(model, Dataset.from_images(files, inference_tfm(model)), device="cpu")
    got = predict(onnx_model, Dataset.from_images(files, inference_tfm(onnx_model)),
                  device="cpu")
    assert len(got) == len(ref) == 3
    for g, r in zip(got, ref):
        assert len(g.scores) == len(r.scores) == 100
        assert (g.width, g.height) == (r.width, r.height)
        assert g.class_map == ClassMap(NAMES) and r.class_map is None  # names from the metadata
        gb, gs, gl = _sorted(g)
        rb, rs, rl = _sorted(r)
        assert np.array_equal(gl, rl)
        assert float(np.abs(gb - rb).max()) < BOX_PX
        assert float(np.abs(gs - rs).max()) < SCORE
        assert gb.max() > IMG  # original pixels, not the model input's


def test_evaluate_with_onnx_runtime_matches_pytorch(exported, demo):
    from efficientdet_adapter.app.runs import evaluate, load_splits

    model, path = exported
    _, valid, _, _, _ = load_splits(demo)
    ref, _ = evaluate(model, valid, show_pbar=False, device="cpu")
    got, preds = evaluate(load_onnx(path), valid, show_pbar=False, device="cpu")
    assert sum(len(p.scores) for p in preds) == 100 * len(valid)
    assert set(got) == set(ref) and len(ref) > 10
    for key in ref:
        assert got[key] == pytest.approx(ref[key], abs=AP), key


def test_onnx_model_refuses_normalized_images(exported, demo):
    model, path = exported
    onnx_model = load_onnx(path)
    files = sorted(demo.rglob("*.jpg"))[:1]
    with pytest.raises(BatchError, match=r"model\.onnx takes pixel values 0-255 and normalizes "
                                         r"them itself.*inference_tfm\(onnx_model\)"):
        predict(onnx_model, Dataset.from_images(files, inference_tfm(model)), device="cpu")


def test_load_onnx_refuses_other_files(tmp_path):
    linear = tmp_path / "linear.onnx"
    torch.onnx.export(torch.nn.Linear(2, 2), (torch.zeros(1, 2),), str(linear), dynamo=False)
    with pytest.raises(CheckpointError, match=r"linear\.onnx: not a self-contained "
                                              r"efficientdet_adapter ONNX graph.*export it again"):
        load_onnx(linear)
    text = tmp_path / "notes.onnx"
    text.write_text("not a graph")
    with pytest.raises(CheckpointError, match=r"notes\.onnx: ONNX Runtime cannot open it"):
        load_onnx(text)


def test_cli_predict_refuses_an_onnx_of_another_contract_in_one_line(tmp_path):
    import os
    import subprocess
    import sys
    from pathlib import Path

    from PIL import Image

    linear = tmp_path / "old.onnx"
    torch.onnx.export(torch.nn.Linear(2, 2), (torch.zeros(1, 2),), str(linear), dynamo=False)
    Image.new("RGB", (32, 32)).save(tmp_path / "a.png")
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(Path(__file__).parents[2])
           + os.pathsep + os.environ.get("PYTHONPATH", "")}
    proc = subprocess.run([sys.executable, "-m", "efficientdet_adapter", "predict",
                           str(tmp_path / "a.png"), "--checkpoint", str(linear), "--out",
                           str(tmp_path / "out")], env=env, capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert proc.stderr.strip().splitlines()[-1].startswith(
        f"efficientdet-adapter predict: error: {linear}: not a self-contained efficientdet_adapter "
        "ONNX graph")
    assert not (tmp_path / "out" / "predictions.json").exists()
