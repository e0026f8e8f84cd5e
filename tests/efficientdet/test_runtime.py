"""Inference runtime: device resolution ("auto") and the accelerated path, equal to eager."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from efficientdet_adapter.records.class_map import ClassMap
from efficientdet_adapter.records.dataset import Dataset
from efficientdet_adapter.efficientdet import accelerate
from efficientdet_adapter.inference.prediction import detect, inference_tfm, predict
from efficientdet_adapter.model.runtime import Accelerated, inference_device
from efficientdet_adapter.base.errors import BatchError, UsageError

IMG = 128
CLASS_MAP = ClassMap(["box", "bar"])
BOX_TOL_PX = 1e-3
SCORE_TOL = 1e-4


@pytest.fixture(scope="module")
def model():
    from efficientdet_adapter.model.model import model as build_model

    torch.manual_seed(0)
    m = build_model(model_name="tf_efficientdet_lite0", num_classes=len(CLASS_MAP), img_size=IMG)
    with torch.no_grad():  # distinct scores: no ties for NMS to break differently
        for p in m.model.class_net.predict.parameters():
            p.normal_(0.0, 0.3)
    return m.eval()


@pytest.fixture(scope="module")
def images():
    return torch.randn(3, 3, IMG, IMG, generator=torch.Generator().manual_seed(1))


def _fresh(model):
    """A copy, so that channels_last weights do not leak into the other tests' model."""
    import copy

    return copy.deepcopy(model)


def _assert_close(fast: torch.Tensor, eager: torch.Tensor) -> None:
    assert fast.shape == eager.shape and fast.dtype == torch.float32
    assert torch.equal(fast[..., 5], eager[..., 5])  # same classes, same order
    assert (fast[..., :4] - eager[..., :4]).abs().max().item() <= BOX_TOL_PX
    assert (fast[..., 4] - eager[..., 4]).abs().max().item() <= SCORE_TOL


# -- device ------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "device, cuda, expected",
    [
        ("auto", False, "cpu"),
        ("auto", True, "cuda"),
        ("cpu", True, "cpu"),
        (torch.device("cpu"), False, "cpu"),
        ("cuda", True, "cuda"),
        ("cuda:1", True, "cuda:1"),
        (None, True, "cpu"),  # None: where the model is
    ],
)
def test_inference_device_resolution(monkeypatch, model, device, cuda, expected):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: cuda)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2 if cuda else 0)  # cuda:1 exists
    assert inference_device(device, model) == torch.device(expected)


def test_auto_resolves_to_the_cpu_here(model):
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert inference_device("auto", model).type == expected


@pytest.mark.parametrize(
    "device, message",
    [("cuda", "PyTorch sees no CUDA GPU on this machine"), ("gpu0", "is not a device"),
     (3.5, "is not a device")],
)
def test_bad_devices_say_what_to_use(monkeypatch, model, device, message):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(UsageError, match=message) as err:
        inference_device(device, model)
    assert "'cpu'" in str(err.value)


def test_predict_defaults_to_auto_and_takes_workers(model, tmp_path):
    from PIL import Image

    files = []
    for i, (w, h) in enumerate([(160, 120), (90, 200), (128, 128)]):
        path = tmp_path / f"img{i}.jpg"
        Image.fromarray(np.full((h, w, 3), 40 * i + 20, np.uint8)).save(path)
        files.append(path)
    ds = Dataset.from_images(files, inference_tfm(model), class_map=CLASS_MAP)
    plain = predict(model, ds, batch_size=2)  # device="auto", num_workers=None -> 0 on the CPU
    workers = predict(model, ds, batch_size=2, device="cpu", num_workers=2)
    assert len(plain) == len(workers) == 3
    for a, b in zip(plain, workers):
        np.testing.assert_array_equal(a.boxes, b.boxes)
        np.testing.assert_array_equal(a.scores, b.scores)
    with pytest.raises(UsageError, match="num_workers=-1"):
        predict(model, ds, num_workers=-1)


@pytest.mark.parametrize(
    "cuda, from_files, n, requested, expected",
    [
        (False, True, 64, None, 0),  # the CPU computes: no workers
        (True, True, 64, None, 4),  # a GPU waits for JPEG decoding
        (True, True, 8, None, 0),  # one batch: nothing to overlap
        (True, False, 64, None, 0),  # images in memory: nothing to decode
        (False, True, 64, 3, 3),  # asked for
    ],
)
def test_num_workers_auto(monkeypatch, cuda, from_files, n, requested, expected):
    from efficientdet_adapter.inference import prediction
    from efficientdet_adapter.records.record import Record

    monkeypatch.setattr(prediction.os, "cpu_count", lambda: 16)
    records = [Record(i, "x.jpg" if from_files else None, 10, 10,
                      img=None if from_files else np.zeros((10, 10, 3), np.uint8))
               for i in range(n)]
    device = torch.device("cuda" if cuda else "cpu")
    assert prediction._num_workers(requested, device, Dataset(records), 8) == expected


# -- accelerated path --------------------------------------------------------------------------
def test_channels_last_equals_eager(model, images):
    eager = detect(model, images)
    fast = accelerate(_fresh(model), device="cpu", compile=False)
    assert isinstance(fast, Accelerated) and fast.channels_last and fast.compiled is None
    assert fast.precision == "fp32"  # "auto" on the CPU
    _assert_close(detect(fast, images), eager)
    _assert_close(fast(images), eager)


@pytest.mark.slow
def test_compiled_equals_eager(model, images):
    """torch.compile on channels_last: detections within 1e-3 px and 1e-4 in score. The backend
    is aot_eager (dynamo's graph capture and AOT tracing, as inductor, without generating C++):
    inductor works here too but takes minutes on this 2-core machine."""
    eager = detect(model, images)
    fast = accelerate(_fresh(model), device="cpu", compile=True, backend="aot_eager")
    assert fast.compiled == "aot_eager:default" and not fast.cuda_graphs
    _assert_close(detect(fast, images), eager)
    _assert_close(detect(fast, images), eager)  # the cached graph, called again


def test_bf16_autocast_runs_and_stays_near(model, images):
    eager = detect(model, images)
    fast = accelerate(_fresh(model), device="cpu", precision="bf16", compile=False)
    out = detect(fast, images)
    assert out.dtype == torch.float32 and out.shape == eager.shape
    assert torch.isfinite(out).all()
    # bf16 keeps 8 bits of mantissa: the best detection's score moves by well under 0.05
    assert (out[:, 0, 4] - eager[:, 0, 4]).abs().max().item() < 0.05


def test_accelerated_model_predicts_and_saves_like_the_model(model, tmp_path):
    from efficientdet_adapter.model.wrappers import find_bench, find_network

    base = _fresh(model)
    fast = accelerate(base, device="cpu", compile=False)
    assert find_bench(fast) is base and find_network(fast) is base.model
    assert set(fast.state_dict()) == {f"model.{k}" for k in base.state_dict()}  # no copies
    ds = Dataset.from_images([np.full((100, 150, 3), 80, np.uint8)], inference_tfm(model))
    eager, accelerated = predict(model, ds), predict(fast, ds)
    assert np.abs(eager[0].boxes - accelerated[0].boxes).max() <= BOX_TOL_PX
    assert np.abs(eager[0].scores - accelerated[0].scores).max() <= SCORE_TOL


def test_accelerated_path_is_fixed_size(model):
    fast = accelerate(_fresh(model), device="cpu", compile=False)
    with pytest.raises(BatchError, match="resize_and_pad"):
        fast(torch.zeros(1, 3, IMG, 2 * IMG))


def test_unknown_precision_says_what_to_use(model):
    with pytest.raises(UsageError, match="fp16, bf16"):
        accelerate(_fresh(model), device="cpu", precision="half")
