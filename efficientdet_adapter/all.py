"""One import for notebooks: ``from efficientdet_adapter.all import *``.

It brings what ``from icevision.all import *`` brought into an EfficientDet notebook, so that
IceVision's notebooks run with only that line changed:

* the library's public names (``parsers``, ``tfms``, ``Dataset``, ``ClassMap``, ``BBox``,
  ``COCOMetric``, ``show_records``...), IceVision's helpers and pictures (``Parser``,
  ``ObjectDetectionRecord``, ``get_image_files``, ``show_record``, ``show_preds``,
  ``draw_record``, ``denormalize_imagenet``...), ``efficientdet`` and ``models``
  (``models.ross.efficientdet``), ``model_from_checkpoint`` and ``save_icevision_checkpoint``;
* the modules and names IceVision's own star import carried along (its ``imports.py``): ``Path``,
  ``PIL``, ``np``, ``torch``, ``nn``, ``F``, ``plt``, ``random``, ``json``, ``os``, ``re``,
  ``partial``, ``typing``'s names (``Any``, ``Hashable``, ``List``, ``Union``...), torch's
  optimizers (``Adam``, ``SGD``...) and schedulers, ``DataLoader``, ``pl`` (Lightning),
  fastcore's helpers (``first``, ``L``...) and ``wandb`` when those extras are installed;
* the module ``class_map``, which IceVision's star import also exposed (its negative-samples
  notebook passes it as ``class_map=``; pictures take the class map from the records, as
  IceVision's did).

Nothing inside the package imports from here; library code imports what it uses by name.
"""

# ruff: noqa: F401, F403, E402  (this module exists to offer the one-liner)
from __future__ import annotations

import dataclasses
import functools
import importlib
import io
import itertools
import json
import math
import operator
import os
import pickle
import random
import re
import shutil
import sys
import typing
import warnings
import zipfile
from collections import OrderedDict, defaultdict, namedtuple
from contextlib import contextmanager
from copy import copy, deepcopy
from dataclasses import dataclass
from enum import Enum
from functools import partial, reduce
from operator import attrgetter, itemgetter
from pathlib import Path
from types import SimpleNamespace
from typing import *

import matplotlib.pyplot as plt
import numpy as np
import PIL
import PIL.Image
import torch
import torch.nn as nn
import torch.nn.functional as F
import torchvision
from torch import Tensor, tensor
from torch.optim import SGD, Adadelta, Adagrad, Adam, AdamW, RMSprop
from torch.optim import lr_scheduler
from torch.optim.lr_scheduler import (
    CosineAnnealingLR,
    CosineAnnealingWarmRestarts,
    LambdaLR,
    MultiplicativeLR,
    MultiStepLR,
    OneCycleLR,
    StepLR,
)
from torch.utils.data import DataLoader
from tqdm.auto import tqdm

from . import *
from . import __all__ as _core_names
from . import class_map, efficientdet, models
from .demo import write_demo_dataset
from .version_compat import lightning_package as _lightning_package

try:  # fastcore comes with the fastai extra: IceVision's `first`, `L`, `listify`...
    from fastcore.basics import *
    from fastcore.foundation import *
except ImportError:  # pragma: no cover - without the fastai extra

    def first(x, f=None, negate=False, **kwargs):  # type: ignore[no-redef]
        """The first item of ``x`` (fastcore's ``first``, for installs without fastai)."""
        return next(iter(x), None)


try:  # Lightning is an extra: `pl` as in IceVision's imports, from whichever package the
    # adapter is built on (`pytorch_lightning`, or `lightning.pytorch` after `import lightning`)
    pl = _lightning_package("pl")
    pl_loggers = importlib.import_module(f"{pl.__name__}.loggers")
except ImportError:  # pragma: no cover - without the lightning extra
    pass

try:  # Weights & Biases, when installed (the wandb extra), as IceVision's star import had it
    import wandb
except ImportError:  # pragma: no cover - without the wandb extra
    pass

__all__ = [name for name in dir() if not name.startswith("_") and name != "annotations"]
