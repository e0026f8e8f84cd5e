"""``eval`` scores the split its run used: on an export without a valid split, a run trained
with ``--seed 3`` records the images it held out, and ``eval --split valid`` scores exactly those
(not a draw with another seed, which would score training images); a checkpoint that does not
say is named in one line."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from efficientdet_adapter.app.demo import write_demo_dataset
from efficientdet_adapter.base.errors import CheckpointError, UsageError
from efficientdet_adapter.training.run_splits import RunSplit, hold_out, load_run_data, split_note

REPO = Path(__file__).resolve().parents[1]
TINY = ["--epochs", "1", "--img-size", "128", "--batch-size", "4", "--threads", "1",
        "--pretrained-backbone", "none", "--progress", "lines"]


def cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "EFFICIENTDET_ADAPTER_OFFLINE": "1",
           "PYTHONPATH": str(REPO), "PYTHONWARNINGS": "ignore::FutureWarning"}
    return subprocess.run([sys.executable, "-m", "efficientdet_adapter", *args], cwd=cwd,
                          env=env, capture_output=True, text=True, timeout=300)


def names(records) -> list[str]:
    return sorted(Path(r.filepath).name for r in records)


@pytest.fixture(scope="module")
def export(tmp_path_factory) -> Path:
    """A COCO export with train and test splits only (20 images: 14 train)."""
    data = write_demo_dataset(tmp_path_factory.mktemp("splits") / "shapes", num_images=20, seed=3)
    shutil.rmtree(data / "valid")
    return data


def test_the_split_is_recorded_and_used_again(export):
    first = load_run_data(export, seed=3)
    assert first.split.rule == "holdout" and first.split.seed == 3
    assert sorted(first.split.valid) == names(first.valid) and len(first.valid) == 3
    other_seed = load_run_data(export, seed=0)
    assert names(other_seed.valid) != names(first.valid)  # why eval must not draw again
    again = load_run_data(export, seed=0, split=RunSplit.from_dict(first.split.to_dict(), "m.pt"))
    assert (names(again.valid), names(again.train)) == (names(first.valid), names(first.train))
    by_seed = load_run_data(export, split=RunSplit("holdout", 3))  # an older run: its seed
    assert names(by_seed.valid) == names(first.valid)
    whole = first.parser.parse_splits()["train"]  # the one rule, on the export's train split
    assert names(hold_out(whole, 3)[1]) == names(first.valid)


def test_a_split_the_data_cannot_follow_is_refused_in_one_line(export):
    with pytest.raises(UsageError) as caught:
        load_run_data(export, split=RunSplit("holdout", 3, ("gone.jpg", "gone2.jpg")))
    assert str(caught.value) == (f"--data {export}: 2 of the 2 images the run held out for "
                                 "validation are not in its train split (another export?); "
                                 "evaluate on the run's export, or use --split test")
    with pytest.raises(UsageError, match="has no valid split, but the run validated on its "
                                         "export's own"):
        load_run_data(export, split=RunSplit("export", 0))


@pytest.mark.parametrize("value", [{"rule": "random", "seed": 0, "valid": []},
                                   {"rule": "holdout", "seed": "3", "valid": []},
                                   {"rule": "holdout", "seed": 3, "valid": [1]}, "holdout"])
def test_a_damaged_split_record_is_refused(value):
    with pytest.raises(CheckpointError, match=r"^m\.pt: extra\.split is not a run's split"):
        split_note({"split": value}, "m.pt")


def test_a_checkpoint_that_does_not_say_is_named():
    split, note = split_note({}, "old.pt")
    assert split is None
    assert note == ("note: old.pt does not record the split its run trained on (an older or "
                    "IceVision checkpoint); the export has no valid split, so 20% of train is "
                    "held out with seed 0 and may include images the model trained on")
    assert split_note({"options": {"seed": 3}}, "old.pt") == (RunSplit("holdout", 3), "")


@pytest.mark.slow
def test_eval_scores_the_images_the_run_held_out(export, tmp_path):
    run = tmp_path / "run"
    proc = cli("train", "--data", str(export), "--out", str(run), "--seed", "3", *TINY,
               cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    model = run / "model.pt"
    recorded = torch.load(model, weights_only=True)["extra"]["split"]
    assert recorded == load_run_data(export, seed=3).split.to_dict()

    def eval_lines(*args: str) -> list[str]:
        done = cli("eval", "--checkpoint", str(model), "--data", str(export), *args,
                   cwd=tmp_path)
        assert done.returncode == 0, done.stderr[-3000:]
        return done.stdout.splitlines()

    assert "COCOMetric on 3 valid images:" in eval_lines("--split", "valid")
    ckpt = torch.load(model, weights_only=True)  # only two of them: eval follows the record
    ckpt["extra"]["split"]["valid"] = recorded["valid"][:2]
    torch.save(ckpt, model)
    assert "COCOMetric on 2 valid images:" in eval_lines("--split", "valid")
    assert "COCOMetric on 12 train images:" in eval_lines("--split", "train")  # 14 - 2
    del ckpt["extra"]["split"]  # as an older model.pt (which kept no options either)
    del ckpt["extra"]["options"]
    torch.save(ckpt, model)
    lines = eval_lines("--split", "valid")
    assert lines[0].startswith(f"note: {model} does not record the split its run trained on")
    assert "COCOMetric on 3 valid images:" in lines
    assert not any(ln.startswith("note:") for ln in eval_lines("--split", "test"))
