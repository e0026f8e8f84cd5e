"""IceVision 0.12's ``icevision.imports``: the modules and names its star import carried.

A star import of ``efficientdet_adapter.imports`` brings what a star import of
``icevision.imports`` brought (``np``, ``torch``, ``nn``, ``Path``, ``plt``, ``partial``, typing's names...).
Differences: ``logger`` is the standard ``logging`` logger of this library (IceVision's was
loguru's); ``partial`` is ``functools.partial``; ``fastai``, ``pl``, ``pl_loggers`` and ``wandb``
load on first use (when their extras are installed).
"""

# ruff: noqa: F401  (this module exists to re-export)
from __future__ import annotations

import dataclasses
import functools
import io
import itertools
import json
import logging
import math
import mimetypes
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
from abc import (
    ABC,
    abstractclassmethod,
    abstractmethod,
    abstractproperty,
    abstractstaticmethod,
)
from collections import OrderedDict, defaultdict, namedtuple
from contextlib import contextmanager
from copy import copy, deepcopy
from dataclasses import dataclass
from enum import Enum
from functools import partial, reduce
from importlib import import_module
from operator import attrgetter, itemgetter
from pathlib import Path
from pdb import set_trace
from types import BuiltinFunctionType, BuiltinMethodType, FunctionType, MethodType, SimpleNamespace

import cv2
import matplotlib.pyplot as plt
import numpy as np
import PIL
import torch
import torch.nn as nn
import torch.optim.lr_scheduler as lr_scheduler
import torchvision
from pycocotools import mask as mask_utils
from torch import Tensor, tensor
from torch.optim import SGD, Adadelta, Adagrad, Adam, AdamW, RMSprop
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
from torchvision.transforms.functional import to_tensor as im2tensor

from efficientdet_adapter.base.faces import INTERNAL, NOT_DEPENDENCY
from efficientdet_adapter.base.faces import not_offered as _not_offered
from efficientdet_adapter.base.version_compat import import_quietly as _import_quietly
from efficientdet_adapter.base.version_compat import lightning_package as _lightning_package
from efficientdet_adapter.base.version_compat import tqdm_class as _tqdm_class

tqdm = _tqdm_class()  # tqdm.auto's, without its warning where ipywidgets is missing

# typing's names, as IceVision's star import of typing gave them
globals().update({_n: getattr(typing, _n) for _n in typing.__all__})

logger = logging.getLogger("efficientdet_adapter")

NOT_OFFERED: dict[str, str] = {"SoftDependencies": INTERNAL, "sklearn": NOT_DEPENDENCY}

# IceVision's soft imports: there when their extras are installed, said so when not
# (`pl` from the Lightning package the adapter is built on; see version_compat)
for _name, _load, _extra in (
    ("fastai", lambda: _import_quietly("fastai.vision.all"), "fastai"),
    ("pl", lambda: _lightning_package("pl"), "lightning"),
    ("pl_loggers", lambda: _import_quietly(f"{_lightning_package('pl').__name__}.loggers"),
     "lightning"),
    ("wandb", lambda: import_module("wandb"), "wandb"),
):
    try:
        globals()[_name] = _load()
    except ImportError:
        NOT_OFFERED[_name] = f"install the extra: pip install 'efficientdet_adapter[{_extra}]'"
__getattr__ = _not_offered(__name__, NOT_OFFERED)


__all__ = sorted(n for n in globals() if not n.startswith("_") and n not in (
    "annotations", "import_module", "NOT_OFFERED", "INTERNAL", "NOT_DEPENDENCY"))
