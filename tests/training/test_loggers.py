"""``--logger tensorboard|wandb|mlflow|csv`` with each engine, offline, on a one-epoch run."""

from __future__ import annotations

import csv
import importlib.util
import os
from pathlib import Path

import pytest

from efficientdet_adapter.app.demo import write_demo_dataset
from efficientdet_adapter.base.errors import UsageError
from efficientdet_adapter.training.loggers import LOGGERS, check_loggers, mlflow_key

from test_cli import TINY, assert_user_error, run

HAVE = {name: importlib.util.find_spec(module) is not None
        for name, module in (("tensorboard", "tensorboard"), ("wandb", "wandb"),
                             ("mlflow", "mlflow"))}
HAVE["csv"] = True
#: The validation COCO AP as each engine names it: fastai's Recorder column (the metric's name),
#: Lightning's ``self.log`` key (the metric's name / COCO's key).
VALID_AP = {"fastai": "COCOMetric", "lightning": "COCOMetric/AP (IoU=0.50:0.95) area=all"}


def test_logger_names_are_checked_once_each():
    assert check_loggers(["csv", "tensorboard", "csv"]) == ["csv", "tensorboard"]
    assert check_loggers(None) == []
    with pytest.raises(UsageError, match=r"--logger comet: not a logger; choose from "
                                         r"tensorboard, wandb, mlflow, csv"):
        check_loggers(["comet"])
    assert mlflow_key("AP (IoU=0.50) area=all class=a b") == "AP IoU0.50 areaall classa b"
    assert mlflow_key("COCOMetric/AP50") == "COCOMetric.AP50"


def test_unknown_logger_is_refused_by_the_command_line(tmp_path):
    proc = run("train", "--data", str(tmp_path), "--logger", "comet")
    assert_user_error(proc, r"argument --logger: invalid choice: 'comet'")


def _tensorboard_tags(folder: Path) -> set[str]:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    tags: set[str] = set()
    for events in folder.rglob("events.out.tfevents.*"):
        acc = EventAccumulator(str(events))
        acc.Reload()
        tags |= set(acc.Tags()["scalars"])
    return tags


def _mlflow_metrics(out: Path) -> dict[str, list[float]]:
    import mlflow

    os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")  # MLflow 3 reading a file store
    client = mlflow.MlflowClient((out / "mlruns").resolve().as_uri())
    experiment = client.get_experiment_by_name("efficientdet-adapter")
    [found] = client.search_runs([experiment.experiment_id])
    assert found.info.run_name == out.name and found.info.status == "FINISHED"
    return {key: [m.value for m in client.get_metric_history(found.info.run_id, key)]
            for key in found.data.metrics}


@pytest.mark.parametrize("engine", ["fastai", "lightning"])
def test_each_logger_writes_in_the_run_folder(tmp_path, monkeypatch, engine):
    if engine == "lightning" and importlib.util.find_spec("lightning") is None \
            and importlib.util.find_spec("pytorch_lightning") is None:
        pytest.skip("Lightning is not installed")
    names = [n for n in LOGGERS if HAVE[n]]
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_SILENT", "true")
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    data = write_demo_dataset(tmp_path / "shapes", num_images=12, seed=3)
    out = tmp_path / f"run_{engine}"
    flags = [arg for n in names for arg in ("--logger", n)]
    proc = run("train", "--data", str(data), "--out", str(out), "--engine", engine, *TINY,
               *flags, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]

    if HAVE["tensorboard"]:  # the engine's logger writes; the run's own writer stays off
        tags = _tensorboard_tags(out / "tensorboard")
        loss = "train_loss" if engine == "fastai" else "train_loss_step"
        assert loss in tags or f"train/{loss}" in tags, tags
        assert VALID_AP[engine] in tags, tags
        assert "loss/train_loss_step" not in tags  # RunTracker's tag: not written twice
    if HAVE["wandb"]:
        [offline] = list((out / "wandb").glob("offline-run-*"))
        assert list(offline.glob("*.wandb")) and (offline / "files").is_dir()
    if HAVE["mlflow"]:
        metrics = _mlflow_metrics(out)
        ap = metrics[mlflow_key(VALID_AP[engine])]
        assert len(ap) == 1 and 0.0 <= ap[0] <= 1.0
        assert any(k.startswith(("valid_loss", "val_loss")) for k in metrics), sorted(metrics)
    written = list((out / "csv").rglob("*.csv"))
    assert len(written) == 1, written
    with written[0].open() as f:
        header = next(csv.reader(f))
    assert {"valid_loss", "val_loss"} & set(header), header
    assert (out / "metrics.csv").is_file()  # the run's own epoch log, with or without loggers
