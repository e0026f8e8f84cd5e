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


# Ops whose output shape or value the host must read from the device: each one is a
# host-device synchronization on a GPU.
SYNCING_OPS = {"nonzero", "_local_scalar_dense", "masked_select", "unique", "_unique2",
               "is_nonzero", "item", "equal"}


def _syncing_ops(fn) -> list[str]:
    """The syncing ops (and boolean-mask indexings) that ``fn()`` runs, in order."""
    from torch.utils._python_dispatch import TorchDispatchMode

    seen: list[str] = []

    class Record(TorchDispatchMode):
        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            name = func.overloadpacket.__name__
            indices = args[1] if name.startswith("index") and len(args) > 1 else ()
            if name in SYNCING_OPS:
                seen.append(name)
            elif any(isinstance(i, torch.Tensor) and i.dtype == torch.bool for i in indices or ()):
                seen.append(f"{name} with a bool mask")  # a nonzero inside
            return func(*args, **(kwargs or {}))

    with Record():
        fn()
    return seen


@pytest.fixture(scope="session")
def syncing_ops():
    """``syncing_ops(fn) -> list[str]``: the ops of ``fn()`` that would make the host wait for a
    GPU (see ``SYNCING_OPS``); an empty list for a step the CPU can queue ahead."""
    return _syncing_ops
