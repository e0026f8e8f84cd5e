"""``--logger tensorboard|wandb|mlflow|csv``: the experiment trackers a run reports to.

Each engine reports through its own integrations (Lightning's loggers, fastai's callbacks:
``engines/lightning/loggers.py``, ``engines/fastai/loggers.py``); this module holds what both
share: the names, the packages they need, and where each writes, inside the run folder:

===============  ===========================================================================
``tensorboard``  ``RUN/tensorboard`` (event files; ``tensorboard --logdir RUN/tensorboard``)
``wandb``        ``RUN/wandb`` (``WANDB_MODE=offline`` keeps it there; project from
                 ``WANDB_PROJECT``, default ``efficientdet-adapter``; run name: the folder's)
``mlflow``       ``RUN/mlruns`` (a ``file:`` store: `mlflow_tracking_uri`;
                 ``MLFLOW_TRACKING_URI`` sends it elsewhere),
                 experiment ``efficientdet-adapter``; metric names keep only letters, digits
                 and ``_. -`` (`mlflow_key`: ``COCOMetric/AP (IoU=0.50) area=all``
                 becomes ``COCOMetric.AP IoU0.50 areaall``)
``csv``          ``RUN/csv`` (Lightning's ``metrics.csv``, fastai's ``history.csv``)
===============  ===========================================================================

``metrics.csv`` (the run's own epoch log) is written either way. Without ``--logger``, a run
writes its TensorBoard scalars itself when tensorboard is installed (`tensorboard_log`);
with ``--logger``, the listed loggers are the ones that write.

Example:
    >>> check_loggers(["csv", "csv"])
    ['csv']
    >>> mlflow_key("AP (IoU=0.50:0.95) area=all")
    'AP IoU0.500.95 areaall'
"""

from __future__ import annotations

import importlib.util
import os
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Literal, get_args

from efficientdet_adapter.base.errors import UsageError

__all__ = ["LoggerName", "LOGGERS", "EXPERIMENT", "check_loggers", "logger_folder",
           "mlflow_key", "mlflow_tracking_uri", "wandb_project"]

LoggerName = Literal["tensorboard", "wandb", "mlflow", "csv"]
#: The ``--logger`` choices.
LOGGERS: tuple[str, ...] = get_args(LoggerName)
#: The package each logger needs, and the extra that installs it.
_NEEDS = {"tensorboard": ("tensorboard", "all"), "wandb": ("wandb", "wandb"),
          "mlflow": ("mlflow", "mlflow")}
_FOLDERS = {"tensorboard": "tensorboard", "wandb": "wandb", "mlflow": "mlruns", "csv": "csv"}
#: The W&B project and MLflow experiment of runs (W&B: unless ``WANDB_PROJECT`` says otherwise).
EXPERIMENT = "efficientdet-adapter"


def check_loggers(names: Iterable[str] | None) -> list[str]:
    """``names`` without repeats, each a known logger whose package is installed.

    Raises:
        UsageError: an unknown name, or one whose package is missing (with its ``pip install``).
    """
    kept: list[str] = []
    for name in names or ():
        if name not in LOGGERS:
            raise UsageError(f"--logger {name}: not a logger; choose from {', '.join(LOGGERS)}")
        module, extra = _NEEDS.get(name, (None, None))
        if module is not None and importlib.util.find_spec(module) is None:
            raise UsageError(f"--logger {name} needs {module}, which is not installed: "
                             f"pip install 'efficientdet_adapter[{extra}]'")
        if name not in kept:
            kept.append(name)
    return kept


def logger_folder(out: str | Path, name: str) -> Path:
    """Where logger ``name`` writes inside the run folder ``out`` (see the module table)."""
    return Path(out) / _FOLDERS[name]


def mlflow_tracking_uri(out: str | Path) -> str:
    """``MLFLOW_TRACKING_URI`` when set, else a ``file:`` store in ``out/mlruns``.

    MLflow 3 refuses file stores unless ``MLFLOW_ALLOW_FILE_STORE`` is true (it keeps them in
    maintenance, pointing to a database instead); a store in the run folder is what ``--logger
    mlflow`` promises, so this sets that variable (unless the user set it) for the run's store.
    """
    told = os.environ.get("MLFLOW_TRACKING_URI")
    if told:
        return told
    os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")
    return logger_folder(out, "mlflow").resolve().as_uri()


def mlflow_key(key: str) -> str:
    """A metric name as MLflow accepts it: Lightning's rule (characters other than letters,
    digits and ``_/. -`` dropped), and ``/`` written ``.``: in MLflow's file store a name is a
    file, so ``COCOMetric`` and ``COCOMetric/AP...`` (Lightning logs both) cannot both exist."""
    return re.sub(r"[^a-zA-Z0-9_/. -]+", "", key).replace("/", ".")


def wandb_project() -> str:
    """``WANDB_PROJECT`` when set, else `EXPERIMENT`."""
    return os.environ.get("WANDB_PROJECT") or EXPERIMENT
