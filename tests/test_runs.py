"""The training-run machinery of the command line: checks made before any work, the schedule."""

from __future__ import annotations

import warnings

import pytest

from efficientdet_adapter.base.errors import UsageError
from efficientdet_adapter.records.record import Record
from efficientdet_adapter.loop.steps import one_cycle_pct_start
from efficientdet_adapter.app.runs import TrainOptions, check_trainable


def records(n: int) -> list[Record]:
    return [Record(record_id=i, filepath=None, width=64, height=64) for i in range(n)]


@pytest.mark.parametrize(
    "n_train,n_valid,img_size,batch_size,pattern",
    [
        (8, 2, 128, 1, r"--batch-size 1 at --img-size 128: BatchNorm .* use --batch-size 2 or "
                       r"more, or --img-size 256"),
        (1, 2, 128, 8, r"1 training image at --img-size 128: .* add training images or use "
                       r"--img-size 256"),
        (0, 2, 256, 8, r"no training images"),
        (8, 0, 256, 8, r"no validation images: add a valid split"),
    ],
)
def test_runs_batchnorm_cannot_train_are_refused_before_work(n_train, n_valid, img_size,
                                                             batch_size, pattern):
    opts = TrainOptions(img_size=img_size, batch_size=batch_size)
    with pytest.raises(UsageError, match=pattern):
        check_trainable(records(n_train), records(n_valid), opts)


@pytest.mark.parametrize("n_train,img_size,batch_size", [(1, 256, 8), (8, 256, 1), (2, 128, 2)])
def test_runs_that_batchnorm_can_train_pass(n_train, img_size, batch_size):
    check_trainable(records(n_train), records(1), TrainOptions(img_size=img_size,
                                                               batch_size=batch_size))


@pytest.mark.parametrize("total_steps", range(1, 41))
def test_one_cycle_schedule_runs_every_step_without_dividing_by_zero(total_steps):
    import torch

    opt = torch.optim.AdamW([torch.nn.Parameter(torch.zeros(1))], lr=1e-3)
    sched = torch.optim.lr_scheduler.OneCycleLR(
        opt, max_lr=1e-3, total_steps=total_steps, pct_start=one_cycle_pct_start(total_steps))
    lrs = []
    for _ in range(total_steps):  # as Lightning does: a scheduler step after every optimizer
        opt.step()                # step, the last one included (2 steps divided by zero there)
        lrs.append(opt.param_groups[0]["lr"])
        sched.step()
    assert all(0 < lr <= 1e-3 + 1e-12 for lr in lrs)
    assert 0 < one_cycle_pct_start(total_steps) < 1
    if total_steps >= 8:
        assert one_cycle_pct_start(total_steps) == 0.25  # unchanged where it already worked


def test_check_images_reaches_the_parser_and_its_report(tmp_path, capsys):
    import json

    from efficientdet_adapter.app.cli import build_parser
    from efficientdet_adapter.app.demo import write_demo_dataset
    from efficientdet_adapter.parsers.base import SIZE_MISMATCH
    from efficientdet_adapter.app.runs import load_splits

    data = write_demo_dataset(tmp_path / "shapes", num_images=10, seed=0)
    ann = data / "train" / "_annotations.coco.json"
    coco = json.loads(ann.read_text())
    coco["images"][0]["width"] *= 2  # another aspect ratio than the file's
    ann.write_text(json.dumps(coco))
    train, *_ = load_splits(data)
    n = len(train)
    train, _, _, _, parser = load_splits(data, check_images=True)
    assert len(train) == n - 1 and parser.report.counts[SIZE_MISMATCH] == 1
    assert coco["images"][0]["file_name"] in parser.report.items[SIZE_MISMATCH][0]
    args = build_parser().parse_args(["train", "--data", str(data), "--check-images"])
    assert args.check_images is True


def test_metric_over_no_ground_truth_is_reported_not_a_crash(tmp_path, capsys):
    from PIL import Image

    from efficientdet_adapter.records.class_map import ClassMap
    from efficientdet_adapter.model.model import model
    from efficientdet_adapter.app.runs import evaluate, print_metrics

    cm = ClassMap(["a"])
    m = model(model_name="tf_efficientdet_lite0", num_classes=len(cm), img_size=128,
              pretrained_backbone=False).eval()
    recs = []
    for i in range(2):
        Image.new("RGB", (96, 64), (i * 50, 80, 120)).save(tmp_path / f"{i}.png")
        recs.append(Record(record_id=i, filepath=tmp_path / f"{i}.png", width=96, height=64,
                           class_map=cm))
    metrics, preds = evaluate(m, recs, show_pbar=False)
    assert len(preds) == 2 and all(p.ground_truth is not None for p in preds)
    assert metrics["AP (IoU=0.50) area=all"] == -1.0
    print_metrics("COCOMetric on 2 valid images:", metrics, recs)
    assert "no ground-truth boxes in these 2 images: every AP/AR below is -1" in \
        capsys.readouterr().out


@pytest.mark.slow
def test_train_with_no_validation_boxes_saves_the_model_and_says_why(tmp_path, capsys):
    import json

    from efficientdet_adapter.app.cli import main
    from efficientdet_adapter.app.demo import write_demo_dataset

    data = write_demo_dataset(tmp_path / "shapes", num_images=12, seed=0)
    ann = data / "valid" / "_annotations.coco.json"
    coco = json.loads(ann.read_text())
    coco["annotations"] = []
    ann.write_text(json.dumps(coco))
    out = tmp_path / "out"
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        rc = main(["train", "--data", str(data), "--out", str(out), "--epochs", "1",
                   "--img-size", "128", "--batch-size", "4", "--threads", "1"])
    stdout = capsys.readouterr().out
    assert rc == 0
    assert "no ground-truth boxes in these" in stdout
    # fastai named the run callback "run", shadowed by every callback's "run" switch
    assert not [w for w in caught if "shadowing" in str(w.message)]
    assert {p.name for p in out.iterdir()} >= {"model.pt", "metrics.csv", "curves.png",
                                               "pr_curves.png", "confusion_matrix.png",
                                               "valid_predictions.png"}
    assert not {"metrics.json", "loss.png"} & {p.name for p in out.iterdir()}  # one epoch log


def test_a_class_only_in_the_valid_split_is_warned_about(caplog):
    from efficientdet_adapter.records.bbox import BBox

    def rec(i, labels):
        return Record(record_id=i, filepath=None, width=64, height=64, labels=list(labels),
                      bboxes=[BBox.from_xyxy(1, 1, 9, 9) for _ in labels])

    train = [rec(0, ["cat"]), rec(1, ["cat", "dog"])]
    valid = [rec(2, ["owl", "cat"]), rec(3, ["emu"])]
    with caplog.at_level("WARNING", logger="efficientdet_adapter.app.runs"):
        check_trainable(train, valid, TrainOptions())
    assert [r.getMessage() for r in caplog.records] == [
        "class(es) emu, owl have boxes in the valid split but none in train: the model cannot "
        "learn them (their AP will be 0); move some of their images to train"]
    caplog.clear()
    with caplog.at_level("WARNING", logger="efficientdet_adapter.app.runs"):
        check_trainable(train, [rec(2, ["dog"])], TrainOptions())
    assert caplog.records == []
