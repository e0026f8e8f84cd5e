"""Progressive resizing: a model switched to another size equals one built at that size."""

from __future__ import annotations

import pytest
import torch

from efficientdet_adapter.efficientdet import model as build_model
from efficientdet_adapter.efficientdet import set_img_size
from efficientdet_adapter.errors import ModelConfigError


def fresh(size, seed=0, name="tf_efficientdet_lite0"):
    torch.manual_seed(seed)
    return build_model(model_name=name, num_classes=4, img_size=size).eval()


@pytest.mark.parametrize("name", ["tf_efficientdet_lite0", "efficientdet_d0"])
@pytest.mark.parametrize("size", [256, (128, 256)])
def test_switched_model_equals_one_built_at_that_size(name, size):
    model = fresh(128, name=name)
    params = [p for p in model.parameters()]
    set_img_size(model, size)
    ref = fresh(size, seed=1, name=name)
    ref.model.load_state_dict(model.model.state_dict())
    h, w = (size, size) if isinstance(size, int) else size
    x = torch.randn(2, 3, h, w, generator=torch.Generator().manual_seed(0))
    assert model.config.img_size == (h, w)
    assert torch.equal(model.anchors.boxes, ref.anchors.boxes)
    assert torch.equal(model.detect(x), ref.detect(x))  # bit for bit
    targets = {"bbox": [torch.tensor([[10.0, 20.0, 60.0, 90.0]])] * 2,
               "cls": [torch.tensor([2.0])] * 2}
    model.train(), ref.train()
    torch.manual_seed(0)
    out = model(x, targets)
    torch.manual_seed(0)
    expected = ref(x, targets)
    for key in ("loss", "class_loss", "box_loss"):
        assert torch.equal(out[key], expected[key]), key
    assert all(a is b for a, b in zip(params, model.parameters()))  # an optimizer keeps working


def test_training_batch_switches_the_model_for_good_eval_batch_for_one_call():
    model = fresh(128)
    model.eval()
    model.detect(torch.zeros(1, 3, 256, 256))
    assert model.config.img_size == (128, 128)  # validation at another size changes nothing
    model.train()
    targets = {"bbox": [torch.zeros(0, 4)], "cls": [torch.zeros(0)]}
    model(torch.zeros(2, 3, 256, 256), {**targets, "bbox": targets["bbox"] * 2,
                                         "cls": targets["cls"] * 2})
    assert model.config.img_size == (256, 256)
    assert model.anchors.boxes.shape[0] == 4 * 3069  # 9 anchors on the 256 px grid


def test_invalid_size_names_the_valid_ones():
    model = fresh(128)
    with pytest.raises(ModelConfigError, match="multiple of 128"):
        set_img_size(model, 200)
    with pytest.raises(ModelConfigError, match="multiple of 128"):
        model.train()(torch.zeros(2, 3, 200, 200), {"bbox": [torch.zeros(0, 4)] * 2,
                                                     "cls": [torch.zeros(0)] * 2})


def test_anchors_are_not_weights():
    model = fresh(128)
    state = model.state_dict()
    assert "anchors.boxes" not in state
    old_style = {**state, "anchors.boxes": torch.zeros(7, 4)}  # effdet's bench saved them
    model.load_state_dict(old_style)  # strict: still loads, the model keeps its own anchors
    assert model.anchors.boxes.shape == (3069, 4)
