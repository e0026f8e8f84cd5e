"""The pieces of a training run, for the command line and for notebooks alike.

``state`` (best/last checkpoints, early stopping, resume state, seeding), ``csvlog``
(``metrics.csv``), ``tensorboard_log`` (TensorBoard scalars), ``resolve_device`` and
``resolve_precision`` (``--device``/``--precision``, from
[`efficientdet_adapter.base.devices`][efficientdet_adapter.base.devices]), ``plots`` (curves, PR curves,
confusion matrix, augmented
samples). The engines' callbacks that call them live in `efficientdet_adapter.engines`.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from efficientdet_adapter.base.devices import resolve_device, resolve_precision  # light: no torch at import

if TYPE_CHECKING:
    from efficientdet_adapter.training.csvlog import MetricsCSV, read_metrics_csv
    from efficientdet_adapter.training.state import MONITOR, RunState, RunTracker, check_run_folder, load_train_state, seed_epoch

# Read on first use: these modules import torch.
_HOMES = {"MetricsCSV": "csvlog", "read_metrics_csv": "csvlog", "MONITOR": "state",
          "RunState": "state", "RunTracker": "state", "check_run_folder": "state", "load_train_state": "state",
          "seed_epoch": "state"}


def __getattr__(name: str) -> Any:
    if name in _HOMES:
        return getattr(importlib.import_module(f".{_HOMES[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "MONITOR",
    "MetricsCSV",
    "RunState",
    "RunTracker",
    "check_run_folder",
    "load_train_state",
    "read_metrics_csv",
    "resolve_device",
    "resolve_precision",
    "seed_epoch",
]
