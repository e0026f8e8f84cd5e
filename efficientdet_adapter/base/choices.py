"""Word lists of options whose implementations import heavy packages, kept light here.

``--aug`` is implemented in `efficientdet_adapter.tfms` (albumentations) and the engines in
``engines/``; the command line reads these lists to build its parser without loading either.
Each implementation takes its list from here (``tfms.A.AUG_PRESETS`` is this tuple). Other lists
live beside their light implementation: the backbone words in
[`weights.packaged_table`][efficientdet_adapter.weights.packaged_table] (read from the table of
packaged weights), `PRECISIONS`, `ANCHOR_CHOICES`, `PROGRESS_CHOICES`.

Example:
    >>> "scale" in AUG_PRESETS
    True
"""

from __future__ import annotations

from typing import Literal, get_args

__all__ = ["Engine", "ENGINES", "AugPreset", "AUG_PRESETS", "BACKBONE_NONE", "BACKBONE_HUB"]

#: The training loops ``train --engine`` (``TrainOptions.engine``) chooses between: the
#: subpackages of ``engines/``. The one list: argparse's choices and ``--resume``'s checks read it.
Engine = Literal["fastai", "lightning"]
ENGINES: tuple[str, ...] = get_args(Engine)
#: ``--aug`` / ``aug_preset``: IceVision's aug_tfms, resize+pad+flip, scale jitter, resize+pad.
AugPreset = Literal["full", "flip", "scale", "none"]
AUG_PRESETS: tuple[str, ...] = get_args(AugPreset)
#: ``pretrained_backbone`` words for no pretrained backbone.
BACKBONE_NONE = ("none", "false", "no")
#: ``pretrained_backbone`` words for timm's hub weights (a download).
BACKBONE_HUB = ("hub", "true")
