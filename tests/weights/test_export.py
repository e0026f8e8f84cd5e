"""ONNX and TorchScript export: the exported graphs give PyTorch's detections."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from efficientdet_adapter.base.errors import ExportError
from efficientdet_adapter.checkpoints.export import (
    OnnxDetectionHead,
    export_onnx,
    export_program,
    export_torchscript,
    onnx_postprocess,
)

IMG = 128


def tiny_model(model_name: str, num_classes: int = 3, seed: int = 0):
    """An untrained model at 128 px, its class head randomized to spread the scores a little."""
    from efficientdet_adapter.model.model import model as build_model

    torch.manual_seed(seed)
    model = build_model(model_name=model_name, num_classes=num_classes, img_size=IMG)
    with torch.no_grad():
        for p in model.model.class_net.predict.parameters():
            p.normal_(0.0, 0.3)
    return model.eval()


def torch_detections(model, images: torch.Tensor) -> np.ndarray:
    """effdet's own post-process (top-k, decode, clip to the input, NMS), in input pixels."""
    from effdet.bench import _batch_detection, _post_process

    n = images.shape[0]
    with torch.no_grad():
        cls_out, box_out = model.model(images)
        cls_out, box_out, idx, classes = _post_process(
            cls_out, box_out, model.num_levels, model.num_classes, model.max_detection_points
        )
        dets = _batch_detection(
            n, cls_out, box_out, model.anchors.boxes, idx, classes,
            torch.ones(n), torch.tensor([[float(IMG), float(IMG)]] * n),
        )
    return dets.numpy()


def _sorted_rows(dets: np.ndarray) -> np.ndarray:
    out = np.empty_like(dets)
    for i, rows in enumerate(dets):
        key = np.round(rows[:, [5, 0, 1, 2, 3]], 2)
        out[i] = rows[np.lexsort(key.T[::-1])]
    return out


def onnx_as_effdet_rows(boxes, scores, classes) -> np.ndarray:
    """The ONNX graph's outputs as effdet's ``[B, D, 6]`` rows (1-based classes, zero padding)."""
    rows = np.zeros((*scores.shape, 6), np.float32)
    rows[..., :4], rows[..., 4], rows[..., 5] = boxes, scores, classes + 1
    rows[classes < 0] = 0
    return rows


@pytest.mark.parametrize("model_name", ["tf_efficientdet_lite0", "efficientdet_d0"])
def test_onnx_detections_match_pytorch(tmp_path, model_name, record_property):
    """uint8 pixels in, NMS inside: the graph's detections are effdet's for the normalized
    images (the same 300 detections, boxes and scores within 1e-3)."""
    ort = pytest.importorskip("onnxruntime")
    from efficientdet_adapter.tfms.albumentations_adapter import Normalize

    model = tiny_model(model_name)
    path = export_onnx(model, tmp_path / "model.onnx", img_size=IMG)
    assert path.stat().st_size > 1_000_000  # the weights are inside

    pixels = np.random.default_rng(1).integers(0, 256, (3, IMG, IMG, 3), dtype=np.uint8)
    normalize = Normalize(model.config.mean, model.config.std)
    images = torch.from_numpy(np.stack([normalize(image=p)["image"] for p in pixels]))
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    assert [o.name for o in sess.get_outputs()] == ["boxes", "scores", "classes",
                                                    "num_detections"]
    boxes, scores, classes, count = sess.run(None, {"images": pixels})  # batch 3, exported at 1
    assert boxes.shape == (3, 100, 4) and scores.shape == classes.shape == (3, 100)
    assert count.tolist() == [100, 100, 100]
    assert set(np.unique(classes)) <= {0, 1}  # 0-based indexes of the 2 foreground classes

    ours = onnx_as_effdet_rows(boxes, scores, classes)
    ref = torch_detections(model, images.permute(0, 3, 1, 2).contiguous())
    assert ours.shape == ref.shape == (3, 100, 6)
    assert (ref[..., 4] > 0).sum() == (ours[..., 4] > 0).sum() == 300
    # An untrained net scores many boxes alike (to 1e-7), so equal-score rows may come in
    # another order: compare the detections as sets (rows sorted by class and box).
    ours, ref = _sorted_rows(ours), _sorted_rows(ref)
    diff = float(np.abs(ours - ref).max())
    record_property("onnx_max_abs_diff", diff)
    print(f"{model_name}: ONNX Runtime vs PyTorch max abs difference {diff:.2e}")
    assert diff < 1e-3, diff  # pixels and scores; class ids equal (a swap would differ by >= 1)
    assert np.array_equal(ours[..., 5], ref[..., 5])


@pytest.mark.parametrize("model_name", ["tf_efficientdet_lite0", "efficientdet_d0"])
def test_torch_export_program_matches_eager_detections(tmp_path, model_name):
    """The .pt2 program runs from torch.export.load alone, at another batch size than the one it
    was traced with, and gives the eager head's outputs and effdet's detections."""
    model = tiny_model(model_name)
    path = export_program(model, tmp_path / "model.pt2", img_size=IMG)
    program = torch.export.load(str(path)).module()
    images = torch.randn(3, 3, IMG, IMG, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        boxes, scores, classes = program(images)
        eager = OnnxDetectionHead(model, (IMG, IMG)).eval()(images)
    assert boxes.shape[0] == 3 and classes.dtype == torch.int64
    for got, want in zip((boxes, scores, classes), eager):
        assert torch.equal(got, want) or float((got - want).abs().max()) < 1e-5

    ours = onnx_postprocess(boxes.numpy(), scores.numpy(), classes.numpy())
    ref = torch_detections(model, images)
    assert (ref[..., 4] > 0).sum() == (ours[..., 4] > 0).sum() == 300
    ours, ref = _sorted_rows(ours), _sorted_rows(ref)
    assert float(np.abs(ours - ref).max()) < 1e-3
    assert np.array_equal(ours[..., 5], ref[..., 5])
    assert model.training is False  # left as it was (tiny_model returns it in eval mode)


def test_onnx_postprocess_is_class_aware_nms():
    boxes = np.array([[[0, 0, 10, 10], [1, 1, 10, 10], [0, 0, 10, 10], [50, 50, 60, 60]]], "f4")
    scores = np.array([[0.9, 0.8, 0.7, 0.6]], "f4")
    classes = np.array([[1, 1, 2, 1]])
    dets = onnx_postprocess(boxes, scores, classes, max_det=5)
    # box 1 overlaps box 0 (IoU 0.81) in the same class: suppressed; box 2 is another class
    assert dets[0, :, 4].tolist() == pytest.approx([0.9, 0.7, 0.6, 0, 0])
    assert dets[0, :3, 5].tolist() == [1, 2, 1]
    assert dets[0, 3:].sum() == 0


@pytest.mark.parametrize("model_name", ["efficientdet_d0", "tf_efficientdet_lite0"])
def test_torchscript_matches_network(tmp_path, model_name):
    """d0 (its fast-attention BiFPN) and lite0 (its plain-sum BiFPN, 'bifpn_sum') both script."""
    model = tiny_model(model_name)
    path = export_torchscript(model, tmp_path / "model.ts")
    scripted = torch.jit.load(str(path))
    images = torch.randn(2, 3, IMG, IMG)
    with torch.no_grad():
        cls_ts, box_ts = scripted(images)
        cls_pt, box_pt = model.model(images)
    assert len(cls_ts) == len(cls_pt) == 5
    diff = max(float((a - b).abs().max()) for a, b in zip(cls_ts + box_ts, cls_pt + box_pt))
    assert diff < 1e-5, diff
    assert not model.model.class_net.bn_level_first  # the model itself was not changed
    assert {type(m).__name__ for m in model.model.modules()} & {"_SumFpnCombine",
                                                               "_LevelFirstHeadNet"} == set()


def test_export_onnx_refuses_a_class_map_of_another_size(tmp_path):
    from efficientdet_adapter.records.class_map import ClassMap

    model = tiny_model("tf_efficientdet_lite0")  # 2 foreground classes
    with pytest.raises(ExportError, match=r"class_map has 3 classes besides the background; "
                                          r"the model predicts 2: pass its own class map"):
        export_onnx(model, tmp_path / "model.onnx", class_map=ClassMap(["a", "b", "c"]))
    assert not (tmp_path / "model.onnx").exists()
