"""``--logger`` with Lightning: its own loggers (``TensorBoardLogger``, ``WandbLogger``,
``MLFlowLogger``, ``CSVLogger``), writing in the run folder as `training.loggers` says.

They receive what the module logs with ``self.log`` (the training loss per step and per epoch,
the validation losses and the COCO metrics per epoch).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from efficientdet_adapter.training.loggers import (EXPERIMENT, logger_folder, mlflow_key, mlflow_tracking_uri,
                                 wandb_project)

__all__ = ["lightning_loggers"]


def lightning_loggers(names: list[str], out: str | Path | None, pl: Any) -> list[Any]:
    """Lightning loggers for ``names`` (checked by `check_loggers`),
    writing in the run folder ``out``; none without a run folder."""
    if out is None or not names:
        return []
    out = Path(out)
    made = []
    for name in names:
        folder = logger_folder(out, name)
        if name == "tensorboard":
            made.append(pl.loggers.TensorBoardLogger(save_dir=str(out), name=folder.name,
                                                     version=""))
        elif name == "csv":
            made.append(pl.loggers.CSVLogger(save_dir=str(out), name=folder.name, version=""))
        elif name == "wandb":
            folder.mkdir(parents=True, exist_ok=True)
            made.append(pl.loggers.WandbLogger(save_dir=str(out), project=wandb_project(),
                                               name=out.name))
        elif name == "mlflow":
            made.append(_mlflow_logger_class(pl)(experiment_name=EXPERIMENT, run_name=out.name,
                                                 tracking_uri=mlflow_tracking_uri(out)))
    return made


def _mlflow_logger_class(pl: Any) -> type:
    """Lightning's ``MLFlowLogger`` with metric names as `mlflow_key`
    writes them (the same names as fastai's MLflow callback, none that the file store refuses)."""

    class MLflowLogger(pl.loggers.MLFlowLogger):
        def log_metrics(self, metrics, step=None):
            super().log_metrics({mlflow_key(k): v for k, v in metrics.items()}, step)

    return MLflowLogger
