"""It learns: a short CPU training on the demo data lifts AP 0.50 on held-out images.

The demo export is written to disk and parsed back with RoboflowParser (the user's path);
tf_efficientdet_lite0 starts from the packaged ImageNet Lite0 backbone (offline), trains with
the fastai learner (fit_one_cycle) and is scored on the valid split, which it never trains on.
"""

from __future__ import annotations

import pytest
import torch

from efficientdet_adapter import tfms
from efficientdet_adapter.records.dataset import Dataset
from efficientdet_adapter.app.demo import write_demo_dataset
from efficientdet_adapter.efficientdet import model as create_model
from efficientdet_adapter.efficientdet import normalize_tfm
from efficientdet_adapter.loop.dataloaders import train_dl, valid_dl
from efficientdet_adapter.efficientdet.fastai import learner
from efficientdet_adapter.loop.steps import validation_step
from efficientdet_adapter.metrics import COCOMetric
from efficientdet_adapter.parsers import RoboflowParser

SIZE = 128
EPOCHS = 10
AP50 = "AP (IoU=0.50) area=all"
# Measured here (2 shared CPU cores, 72 demo images: 50 train / 14 valid): AP50 on the valid
# split 0.0005 untrained -> 0.2-0.25 after 10 epochs (~1-2 CPU minutes). Asserted: half the gain.
MIN_GAIN = 0.10


def held_out_ap50(model, dl) -> float:
    metric = COCOMetric()
    for batch in dl:
        metric.accumulate(validation_step(model, batch)[1])
    return metric.finalize()[AP50]


@pytest.mark.slow
def test_short_training_lifts_ap50_on_held_out_demo_images(tmp_path):
    export = write_demo_dataset(tmp_path / "demo", num_images=72, seed=0)
    parser = RoboflowParser(export)
    train_records, valid_records, _test = parser.parse()
    assert parser.split_names[:2] == ["train", "valid"]
    assert {r.record_id for r in train_records}.isdisjoint(r.record_id for r in valid_records)

    torch.manual_seed(0)
    model = create_model(model_name="tf_efficientdet_lite0", num_classes=len(parser.class_map),
                         img_size=SIZE, pretrained_backbone="imagenet-lite0")
    normalize = normalize_tfm(model)
    train_tfm = tfms.A.Adapter([*tfms.A.resize_and_pad(SIZE), tfms.A.HorizontalFlip(), normalize])
    train_tfm.seed(0)  # the flips too: the result must not depend on the tests run before
    valid_tfm = tfms.A.Adapter([*tfms.A.resize_and_pad(SIZE), normalize])
    dls = [train_dl(Dataset(train_records, train_tfm), batch_size=4, shuffle=True),
           valid_dl(Dataset(valid_records, valid_tfm), batch_size=8)]

    before = held_out_ap50(model, dls[1])
    learn = learner(dls, model, path=tmp_path, device="cpu")
    with learn.no_bar():
        learn.fit_one_cycle(EPOCHS, 1e-2)
    after = held_out_ap50(model, dls[1])
    print(f"held-out AP50: untrained {before:.4f} -> trained {after:.4f} "
          f"({len(train_records)} train / {len(valid_records)} valid images, {EPOCHS} epochs)")
    assert after - before >= MIN_GAIN
