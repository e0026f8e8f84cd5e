"""The pieces of a training run, for the command line and for notebooks alike.

``state`` (best/last checkpoints, early stopping, resume state, seeding), ``csvlog``
(``metrics.csv``), ``tensorboard_log`` (TensorBoard scalars), ``devices``
(``--device``/``--precision``), ``plots`` (curves, PR curves, confusion matrix, augmented
samples), and the engine callbacks that call them:
``fastai_callbacks`` and ``lightning_callbacks`` (imported on first use: they need their extra).
"""

from .csvlog import MetricsCSV, read_metrics_csv
from .devices import resolve_device, resolve_precision
from .state import MONITOR, RunState, RunTracker, check_run_folder, load_train_state, seed_epoch

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
