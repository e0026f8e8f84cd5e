"""efficientdet.backbones: IceVision's names, fresh immutable specs, and their use in model()."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from efficientdet_adapter.model import backbones
from efficientdet_adapter.model.backbones import BACKBONES, BackboneSpec
from efficientdet_adapter.model.model import list_models, model

ICEVISION_NAMES = (
    [f"tf_lite{i}" for i in range(4)] + [f"tf_d{i}" for i in range(8)] + ["tf_d7x"]
    + [f"d{i}" for i in range(6)] + [f"tf_d{i}_ap" for i in range(6)]
)


@pytest.mark.parametrize("short", sorted(BACKBONES))
def test_every_name_is_a_function_of_an_effdet_config(short):
    make = getattr(backbones, short)
    spec = make()
    assert spec == BackboneSpec(BACKBONES[short], pretrained=False)
    assert spec.model_name in list_models()
    assert make(pretrained=True).pretrained is True
    assert short in backbones.__all__ and make.__name__ == short


@pytest.mark.parametrize("short", ICEVISION_NAMES)
def test_icevision_names_exist(short):
    tf = short.startswith("tf_")
    expected = f"tf_efficientdet_{short[3:]}" if tf else f"efficientdet_{short}"
    assert getattr(backbones, short)().model_name == expected


def test_calls_do_not_share_state():
    first = backbones.tf_lite0(pretrained=True)
    second = backbones.tf_lite0()
    third = backbones.tf_lite0(pretrained="weights.pth")
    assert (first.pretrained, second.pretrained, third.pretrained) == (True, False, "weights.pth")
    assert first is not second and backbones.tf_lite0() == second
    assert first.pretrained is True  # unchanged by the later calls


def test_specs_are_frozen():
    spec = backbones.tf_lite0()
    with pytest.raises(dataclasses.FrozenInstanceError):
        spec.pretrained = True  # type: ignore[misc]
    assert backbones.tf_lite0().pretrained is False


def test_spec_pretrained_file_reaches_the_model(tmp_path):
    torch.manual_seed(1)
    source = model(backbones.tf_lite0(), num_classes=3, img_size=128)
    path = tmp_path / "lite0.pth"
    torch.save(source.model.state_dict(), path)
    torch.manual_seed(2)
    loaded = model(backbones.tf_lite0(pretrained=str(path)), num_classes=3, img_size=128)
    assert loaded.weights[0].source == f"file {path}" and loaded.weights[0].loaded == len(
        source.model.state_dict()
    )
    for key, tensor in source.model.state_dict().items():
        assert torch.equal(loaded.model.state_dict()[key], tensor), key
