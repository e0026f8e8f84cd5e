"""Progressive resizing: a model switched to another size equals one built at that size."""

from __future__ import annotations

import pytest
import torch

from efficientdet_adapter.efficientdet import model as build_model
from efficientdet_adapter.efficientdet import set_img_size
from efficientdet_adapter.base.errors import BatchError, ModelConfigError


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


# -- the size changes at a clear point only ----------------------------------------------------
def _empty_targets(n):
    return {"bbox": [torch.zeros(0, 4)] * n, "cls": [torch.zeros(0)] * n}


def test_a_batch_of_another_size_mid_epoch_names_both_sizes_and_the_fix():
    model = fresh(128).train()
    model(torch.zeros(2, 3, 128, 128), _empty_targets(2))  # the epoch's first batch: size taken
    with pytest.raises(BatchError) as info:
        model(torch.zeros(2, 3, 256, 256), _empty_targets(2))
    message = str(info.value)
    assert "256x256" in message and "128x128" in message and "middle of an epoch" in message
    assert "transforms disagree" in message and "set_img_size" in message
    assert model.config.img_size == (128, 128)  # the anchors did not move
    model.eval()(torch.zeros(1, 3, 256, 256), _empty_targets(1))  # eval: one call at its size
    assert model.config.img_size == (128, 128)
    model.train()  # a new epoch: its first batch sets the size
    model(torch.zeros(2, 3, 256, 256), _empty_targets(2))
    assert model.config.img_size == (256, 256)
    model.set_img_size(128)  # explicit, at any time
    model(torch.zeros(2, 3, 128, 128), _empty_targets(2))
    assert model.config.img_size == (128, 128)


def _loader(records, size, tfm_size=None):
    from efficientdet_adapter import tfms
    from efficientdet_adapter.records.dataset import Dataset
    from efficientdet_adapter.loop.dataloaders import train_dl

    sizes = tfm_size if isinstance(tfm_size, list) else [tfm_size or size]
    datasets = [Dataset(records, tfms.A.Adapter([*tfms.A.resize_and_pad(s), tfms.A.Normalize()]))
                for s in sizes]
    dataset = datasets[0] if len(datasets) == 1 else torch.utils.data.ConcatDataset(datasets)
    return train_dl(dataset, batch_size=2, shuffle=False)


def fresh_demo(size):
    from efficientdet_adapter.app.demo import demo_class_map

    torch.manual_seed(0)
    return build_model(model_name="tf_efficientdet_lite0", num_classes=len(demo_class_map()),
                       img_size=size)


@pytest.fixture(scope="module")
def records(tmp_path_factory):
    from efficientdet_adapter.app.demo import demo_records

    return demo_records(tmp_path_factory.mktemp("demo"), num_images=4, splits=(1, 0, 0))["train"]


def test_plain_loop_and_a_loader_that_mixes_sizes_within_an_epoch(records):
    from efficientdet_adapter.loop.steps import loss_step

    model = fresh_demo(128).train()
    for batch in _loader(records, 128):  # the plain loop: one size throughout
        loss_step(model, batch)["loss"].backward()
    assert model.config.img_size == (128, 128)
    model.train()
    mixed = _loader(records, 128, tfm_size=[128, 256])  # 2 batches at 128, then 2 at 256
    with pytest.raises(BatchError, match=r"256x256 images .* trains at 128x128"):
        for batch in mixed:
            loss_step(model, batch)


def test_icevision_progressive_resizing_recipe_with_a_fastai_learner(records, tmp_path):
    """IceVision's notebook: fit at 128, then ``learn.dls = <256 loaders>`` and fit again."""
    from fastai.data.core import DataLoaders

    from efficientdet_adapter.loop.dataloaders import valid_dl
    from efficientdet_adapter.efficientdet.fastai import learner
    from efficientdet_adapter import tfms
    from efficientdet_adapter.records.dataset import Dataset

    def dls(size):
        tfm = tfms.A.Adapter([*tfms.A.resize_and_pad(size), tfms.A.Normalize()])
        return [_loader(records, size), valid_dl(Dataset(records, tfm), batch_size=2)]

    model = fresh_demo(128).train()
    learn = learner(dls(128), model, path=tmp_path, device="cpu")
    learn.remove_cb(learn.progress)
    learn.fit(1, 1e-4)
    assert model.config.img_size == (128, 128)
    learn.dls = DataLoaders(*dls(256), device=torch.device("cpu"))
    learn.fit(1, 1e-4)
    assert model.config.img_size == (256, 256)
    assert model.anchors.boxes.shape[0] == 4 * 3069  # 9 anchors on the 256 px grid
