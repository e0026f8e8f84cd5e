"""A real ``train --weights RUN_DIR``: the start line, the class head moved by class name, the
start recorded in best.pt, last.pt and model.pt, and a resume that neither reads RUN_DIR again
nor changes the record."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from efficientdet_adapter.checkpoint import save_checkpoint
from efficientdet_adapter.records.class_map import ClassMap
from efficientdet_adapter.app.cli import main
from efficientdet_adapter.app.demo import write_demo_dataset
from efficientdet_adapter.efficientdet import model
from efficientdet_adapter.engines.core import SIGNAL_AT_STEP_ENV

REPO = Path(__file__).resolve().parents[2]
HEAD = "class_net.predict.conv_pw.bias"


def train(*args: str, cwd: Path, env: dict[str, str] | None = None
          ) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "EFFICIENTDET_ADAPTER_OFFLINE": "1",
           "TORCH_HOME": str(cwd / "torch_home"), "PYTHONPATH": str(REPO), **(env or {})}
    return subprocess.run([sys.executable, "-m", "efficientdet_adapter", "train", *args],
                          cwd=cwd, env=env, capture_output=True, text=True, timeout=300)


@pytest.mark.slow
def test_train_from_a_run_folder_then_resume(tmp_path):
    pytest.importorskip("fastai")
    data = write_demo_dataset(tmp_path / "shapes", num_images=12, seed=3)
    earlier = tmp_path / "earlier"  # a run folder of (circle, hexagon): only its best.pt
    torch.manual_seed(5)
    source = model(model_name="tf_efficientdet_lite0", class_map=ClassMap(["hexagon", "circle"]),
                   img_size=128, weights="none")
    with torch.no_grad():
        source.model.class_net.predict.conv_pw.bias.copy_(torch.arange(18.0))
    save_checkpoint(source, earlier / "best.pt", ClassMap(["hexagon", "circle"]))
    out = tmp_path / "run"
    # two epochs of two steps; a Ctrl-C after step 3 leaves last.pt at epoch 1
    proc = train("--data", str(data), "--out", str(out), "--weights", str(earlier), "--epochs",
                 "2", "--img-size", "128", "--batch-size", "4", "--threads", "1", "--progress",
                 "lines", "--lr", "1e-9", cwd=tmp_path, env={SIGNAL_AT_STEP_ENV: "3:INT"})
    assert proc.returncode == 130, proc.stderr[-3000:]
    line = (f"start (weights {earlier}): {earlier / 'best.pt'} (run folder {earlier}: its "
            "best.pt); class head: 1 kept (circle), 3 new (square, star, triangle), 1 dropped "
            "(hexagon)")
    assert line in proc.stdout.splitlines()
    record = {"weights": str(earlier), "kind": "checkpoint", "source": str(earlier / "best.pt"),
              "kept": ["circle"], "new": ["square", "star", "triangle"], "dropped": ["hexagon"],
              "note": f"run folder {earlier}: its best.pt"}
    last = torch.load(out / "last.pt", weights_only=True)
    assert last["extra"]["epoch"] == 1 and last["extra"]["start"] == record
    assert torch.load(out / "best.pt", weights_only=True)["extra"]["start"] == record
    # circle's rows came from the file's second class (biases 1, 3, 5, ... 17 per anchor);
    # at lr 1e-9 one epoch leaves them where they were
    bias = last["state_dict"][HEAD].reshape(9, 4)
    assert torch.allclose(bias[:, 0], torch.arange(1.0, 18.0, 2.0), atol=1e-3)

    shutil.rmtree(earlier)  # a resume takes its weights from last.pt, never from RUN_DIR
    resumed = train("--resume", str(out), cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert "start (weights" not in resumed.stdout and "epoch 2/2" in resumed.stdout
    for name in ("last.pt", "model.pt"):
        assert torch.load(out / name, weights_only=True)["extra"]["start"] == record, name


def test_conflicting_weights_and_backbone_are_one_line_exit_2(tmp_path, capsys):
    code = main(["train", "--data", str(tmp_path), "--out", str(tmp_path / "run"), "--weights",
                 "coco", "--pretrained-backbone", "imagenet-lite0"])
    assert code == 2 and not (tmp_path / "run").exists()
    assert capsys.readouterr().err.splitlines() == [
        "efficientdet-adapter train: error: --weights coco and --pretrained-backbone "
        "imagenet-lite0 disagree: the first means the COCO detector, backbone included. Leave "
        "out --pretrained-backbone, or give it with --weights auto to start from that backbone "
        "alone"]
