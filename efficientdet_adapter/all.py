"""One import for notebooks: ``from efficientdet_adapter.all import *``.

It brings what ``from icevision.all import *`` brought into an EfficientDet notebook, so that
IceVision's notebooks run with only that line changed:

* the library's public names (``parsers``, ``tfms``, ``Dataset``, ``ClassMap``, ``BBox``,
  ``COCOMetric``, ``show_records``...), IceVision's helpers and pictures (``Parser``,
  ``ObjectDetectionRecord``, ``get_image_files``, ``show_record``, ``show_preds``,
  ``draw_record``, ``denormalize_imagenet``...), ``efficientdet`` and ``models``
  (``models.ross.efficientdet``), ``model_from_checkpoint`` and ``save_icevision_checkpoint``;
* the modules and names IceVision's own star import carried along, from
  `efficientdet_adapter.imports` (IceVision's ``imports.py``, their one home): ``Path``,
  ``PIL``, ``np``, ``torch``, ``nn``, ``plt``, ``random``, ``json``, ``os``, ``re``,
  ``partial``, ``typing``'s names (``Any``, ``Hashable``, ``List``, ``Union``...), torch's
  optimizers (``Adam``, ``SGD``...) and schedulers, ``DataLoader``, ``fastai``, ``pl``
  (Lightning) and ``wandb`` when those extras are installed; and ``F``
  (``torch.nn.functional``) and fastcore's helpers (``first``, ``L``...);
* the module ``class_map``, which IceVision's star import also exposed (its negative-samples
  notebook passes it as ``class_map=``; pictures take the class map from the records, as
  IceVision's did).

Nothing inside the package imports from here; library code imports what it uses by name.
"""

# ruff: noqa: F401, F403, E402  (this module exists to offer the one-liner)
from __future__ import annotations

import importlib

import PIL.Image
import torch.nn.functional as F

# IceVision's all began with its imports: the modules and names they carried (np, torch, nn,
# Path, plt, partial, typing's names, torch's optimizers, DataLoader, pl, wandb...) have one
# home, this library's face of icevision.imports
from efficientdet_adapter.imports import *
from efficientdet_adapter import *
from efficientdet_adapter import __all__ as _core_names
from efficientdet_adapter import class_map, efficientdet, models
from efficientdet_adapter.app.demo import write_demo_dataset

try:  # fastcore comes with the fastai extra: IceVision's `first`, `L`, `listify`...
    from fastcore.basics import *
    from fastcore.foundation import *
except ImportError:  # pragma: no cover - without the fastai extra

    def first(x, f=None, negate=False, **kwargs):  # type: ignore[no-redef]
        """The first item of ``x`` (fastcore's ``first``, for installs without fastai)."""
        return next(iter(x), None)


__all__ = [name for name in dir() if not name.startswith("_") and name != "annotations"]
