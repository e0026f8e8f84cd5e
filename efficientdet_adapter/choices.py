"""Word lists of options whose implementations import heavy packages, kept light here.

``--aug`` is implemented in `efficientdet_adapter.tfms` (albumentations) and the packaged
backbones in [`efficientdet_adapter.weights.packaged`][efficientdet_adapter.weights.packaged]
(torch); the command line reads these
lists to build its parser without loading either. Each implementation takes its list from here
(``tfms.A.AUG_PRESETS`` is this tuple), and ``tests/test_run_options.py`` checks that the
packaged backbones' names are the ones listed. Other lists live beside their light
implementation: `ENGINES`,
`PRECISIONS`,
`ANCHOR_CHOICES`,
`PROGRESS_CHOICES`.

Example:
    >>> "scale" in AUG_PRESETS
    True
"""

from __future__ import annotations

from typing import Literal, get_args

__all__ = ["AugPreset", "AUG_PRESETS", "BACKBONE_NONE", "BACKBONE_HUB", "PACKAGED_BACKBONE_NAMES",
           "BACKBONE_CHOICES"]

#: ``--aug`` / ``aug_preset``: IceVision's aug_tfms, resize+pad+flip, scale jitter, resize+pad.
AugPreset = Literal["full", "flip", "scale", "none"]
AUG_PRESETS: tuple[str, ...] = get_args(AugPreset)
#: ``pretrained_backbone`` words for no pretrained backbone.
BACKBONE_NONE = ("none", "false", "no")
#: ``pretrained_backbone`` words for timm's hub weights (a download).
BACKBONE_HUB = ("hub", "true")
#: The packaged ImageNet backbones' names and aliases (``weights.packaged.PACKAGED_BACKBONES``).
PACKAGED_BACKBONE_NAMES = ("imagenet-lite0", "lite0-package", "imagenet-lite1", "lite1-package",
                           "imagenet-lite2", "lite2-package")
#: Every ``pretrained_backbone`` word (besides a weights file); ``auto``: the packaged weights
#: when the model has them, else none.
BACKBONE_CHOICES = ("auto", *BACKBONE_NONE, *BACKBONE_HUB, *PACKAGED_BACKBONE_NAMES)
