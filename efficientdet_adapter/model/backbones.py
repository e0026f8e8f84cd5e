"""IceVision's backbone names: ``efficientdet.backbones.tf_lite0(pretrained=False)`` and friends.

Each name is a plain function that returns a *new* frozen
[`BackboneSpec`][efficientdet_adapter.model.backbones.BackboneSpec] on every call, so
``tf_lite0(pretrained=True)`` can never change what another ``tf_lite0()`` call returns (in
IceVision the call mutated one module-level object). Pass the spec to ``efficientdet.model``::

    >>> from efficientdet_adapter.efficientdet import backbones
    >>> backbones.tf_lite0()
    BackboneSpec(model_name='tf_efficientdet_lite0', pretrained=False)
    >>> # efficientdet.model(backbone=backbones.tf_lite0(), num_classes=3, img_size=384)

``pretrained`` has IceVision's meaning: the COCO weights of the whole detector (see
``efficientdet.model``'s ``pretrained`` argument; a path to a local file works too). The ImageNet
backbone weights are chosen with ``efficientdet.model(..., pretrained_backbone=...)``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from os import PathLike
from typing import Union

__all__ = [
    "BackboneSpec",
    "BACKBONES",
    "tf_lite0",
    "tf_lite1",
    "tf_lite2",
    "tf_lite3",
    "tf_lite3x",
    "tf_lite4",
    "tf_d0",
    "tf_d1",
    "tf_d2",
    "tf_d3",
    "tf_d4",
    "tf_d5",
    "tf_d6",
    "tf_d7",
    "tf_d7x",
    "tf_d0_ap",
    "tf_d1_ap",
    "tf_d2_ap",
    "tf_d3_ap",
    "tf_d4_ap",
    "tf_d5_ap",
    "d0",
    "d1",
    "d2",
    "d3",
    "d4",
    "d5",
    "lite0",
]

Pretrained = Union[bool, str, PathLike]


@dataclass(frozen=True)
class BackboneSpec:
    """Which effdet config to build, and whether to start from its COCO weights.

    Attributes:
        model_name: an effdet config name (``efficientdet.list_models()``).
        pretrained: ``False``, ``True`` (effdet's COCO weights from the hub) or a local file path.
    """

    model_name: str
    pretrained: Pretrained = False


def _factory(short_name: str, model_name: str) -> Callable[..., BackboneSpec]:
    def make(pretrained: Pretrained = False) -> BackboneSpec:
        return BackboneSpec(model_name=model_name, pretrained=pretrained)

    make.__name__ = make.__qualname__ = short_name
    make.__doc__ = (
        f"A new ``BackboneSpec`` for effdet's ``{model_name}``; ``pretrained`` as in "
        "``efficientdet.model``."
    )
    return make


#: IceVision's short names -> effdet config names.
BACKBONES: dict[str, str] = {
    "tf_lite0": "tf_efficientdet_lite0",
    "tf_lite1": "tf_efficientdet_lite1",
    "tf_lite2": "tf_efficientdet_lite2",
    "tf_lite3": "tf_efficientdet_lite3",
    "tf_lite3x": "tf_efficientdet_lite3x",
    "tf_lite4": "tf_efficientdet_lite4",
    **{f"tf_d{i}": f"tf_efficientdet_d{i}" for i in range(8)},
    "tf_d7x": "tf_efficientdet_d7x",
    **{f"tf_d{i}_ap": f"tf_efficientdet_d{i}_ap" for i in range(6)},
    # effdet 0.4.1 has PyTorch-native configs for d0..d5 only (IceVision listed d6, d7, d7x too).
    **{f"d{i}": f"efficientdet_d{i}" for i in range(6)},
    "lite0": "efficientdet_lite0",
}

tf_lite0 = _factory("tf_lite0", BACKBONES["tf_lite0"])
tf_lite1 = _factory("tf_lite1", BACKBONES["tf_lite1"])
tf_lite2 = _factory("tf_lite2", BACKBONES["tf_lite2"])
tf_lite3 = _factory("tf_lite3", BACKBONES["tf_lite3"])
tf_lite3x = _factory("tf_lite3x", BACKBONES["tf_lite3x"])
tf_lite4 = _factory("tf_lite4", BACKBONES["tf_lite4"])
tf_d0 = _factory("tf_d0", BACKBONES["tf_d0"])
tf_d1 = _factory("tf_d1", BACKBONES["tf_d1"])
tf_d2 = _factory("tf_d2", BACKBONES["tf_d2"])
tf_d3 = _factory("tf_d3", BACKBONES["tf_d3"])
tf_d4 = _factory("tf_d4", BACKBONES["tf_d4"])
tf_d5 = _factory("tf_d5", BACKBONES["tf_d5"])
tf_d6 = _factory("tf_d6", BACKBONES["tf_d6"])
tf_d7 = _factory("tf_d7", BACKBONES["tf_d7"])
tf_d7x = _factory("tf_d7x", BACKBONES["tf_d7x"])
tf_d0_ap = _factory("tf_d0_ap", BACKBONES["tf_d0_ap"])
tf_d1_ap = _factory("tf_d1_ap", BACKBONES["tf_d1_ap"])
tf_d2_ap = _factory("tf_d2_ap", BACKBONES["tf_d2_ap"])
tf_d3_ap = _factory("tf_d3_ap", BACKBONES["tf_d3_ap"])
tf_d4_ap = _factory("tf_d4_ap", BACKBONES["tf_d4_ap"])
tf_d5_ap = _factory("tf_d5_ap", BACKBONES["tf_d5_ap"])
d0 = _factory("d0", BACKBONES["d0"])
d1 = _factory("d1", BACKBONES["d1"])
d2 = _factory("d2", BACKBONES["d2"])
d3 = _factory("d3", BACKBONES["d3"])
d4 = _factory("d4", BACKBONES["d4"])
d5 = _factory("d5", BACKBONES["d5"])
lite0 = _factory("lite0", BACKBONES["lite0"])
