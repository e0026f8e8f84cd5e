"""``--logger`` with fastai: its own callbacks (``TensorBoardCallback``, ``WandbCallback``,
``CSVLogger``) and, as fastai has none for MLflow, `MLflowCallback` (a few calls of
mlflow's API), writing in the run folder as `training.loggers` says.

They receive what fastai's ``Recorder`` holds: the training loss per batch (TensorBoard, W&B),
and per epoch the training and validation losses and the COCO metric columns.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from efficientdet_adapter.training.loggers import (EXPERIMENT, logger_folder, mlflow_key, mlflow_tracking_uri,
                                 wandb_project)
from efficientdet_adapter.base.version_compat import import_fastai_quietly

import_fastai_quietly()

from fastai.callback.core import Callback  # noqa: E402
from fastai.learner import Recorder  # noqa: E402

__all__ = ["MLflowCallback", "logger_callbacks"]


class MLflowCallback(Callback):
    """Each epoch's ``Recorder`` values as MLflow metrics (step: the epoch, counted over fits),
    ``params`` once; the run is ended by `close`, after the last fit."""

    order = Recorder.order + 1  # after the Recorder has the epoch's values

    def __init__(self, tracking_uri: str, run_name: str, params: dict[str, Any]) -> None:
        import mlflow  # noqa: PLC0415

        self.client = mlflow.MlflowClient(tracking_uri)
        found = self.client.get_experiment_by_name(EXPERIMENT)
        experiment = found.experiment_id if found else self.client.create_experiment(EXPERIMENT)
        self.run_id = self.client.create_run(experiment, run_name=run_name).info.run_id
        for key, value in params.items():
            self.client.log_param(self.run_id, key, value)
        self.epochs = 0

    def after_epoch(self) -> None:
        names, values = self.recorder.metric_names, self.recorder.log
        for name, value in zip(names, values):
            if name in ("epoch", "time") or not isinstance(value, (int, float)):
                continue
            if math.isfinite(value):
                self.client.log_metric(self.run_id, mlflow_key(name), float(value),
                                       step=self.epochs)
        self.epochs += 1

    def close(self) -> None:
        self.client.set_terminated(self.run_id)


def logger_callbacks(names: list[str], out: str | Path | None,
                     params: dict[str, Any]) -> tuple[list[Callback], list[Any]]:
    """``(callbacks, closers)`` for ``names`` (checked by
    `check_loggers`), writing in the run folder ``out``: add the
    callbacks to the learner, call each closer after the last fit. ``params``: the run's
    options, recorded by W&B and MLflow."""
    if out is None or not names:
        return [], []
    out = Path(out)
    cbs: list[Callback] = []
    closers: list[Any] = []
    for name in names:
        folder = logger_folder(out, name)
        if name == "tensorboard":
            from fastai.callback.tensorboard import TensorBoardCallback  # noqa: PLC0415

            cbs.append(TensorBoardCallback(log_dir=str(folder), trace_model=False,
                                           log_preds=False))
        elif name == "csv":
            from fastai.callback.progress import CSVLogger  # noqa: PLC0415

            folder.mkdir(parents=True, exist_ok=True)
            cbs.append(CSVLogger(fname=str(folder / "history.csv"), append=True))
        elif name == "wandb":
            import wandb  # noqa: PLC0415
            from fastai.callback.wandb import WandbCallback  # noqa: PLC0415

            folder.mkdir(parents=True, exist_ok=True)
            run = wandb.init(dir=str(out), project=wandb_project(), name=out.name,
                             config=params)
            cbs.append(WandbCallback(log_preds=False, log_model=False))
            closers.append(run.finish)
        elif name == "mlflow":
            cb = MLflowCallback(mlflow_tracking_uri(out), out.name, params)
            cbs.append(cb)
            closers.append(cb.close)
    return cbs, closers
