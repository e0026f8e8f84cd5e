"""Fixtures shared by the efficientdet tests."""

from __future__ import annotations

import pytest
import torch


@pytest.fixture(scope="module")
def bench():
    """A raw effdet ``DetBenchTrain`` (tf_efficientdet_lite0, 3 classes, 128 px, labeler on) in
    eval mode: BatchNorm uses running stats, so the images of a batch do not interact."""
    effdet = pytest.importorskip("effdet")
    torch.manual_seed(0)
    model = effdet.create_model(
        "tf_efficientdet_lite0", bench_task="train", num_classes=3, image_size=(128, 128),
        pretrained_backbone=False, bench_labeler=True,
    )
    return model.eval()
