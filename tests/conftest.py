"""Fixtures shared by the whole suite."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

# Keep the suite light on a 2-core machine: one intra-op thread per test process.
os.environ.setdefault("OMP_NUM_THREADS", "1")
# No test reaches the real hub: `train`'s default `--weights auto` would download effdet's COCO
# weights on a machine with internet. Tests of the probe and of downloads (from 127.0.0.1) unset
# this themselves.
os.environ.setdefault("EFFICIENTDET_ADAPTER_OFFLINE", "1")

REPO_ROOT = Path(__file__).resolve().parents[1]
SAMPLES_DIR = REPO_ROOT.parent / "shared" / "data" / "icevision-samples"


@pytest.fixture(scope="session")
def samples_dir() -> Path:
    """``../shared/data/icevision-samples`` (real COCO, VOC, fridge, VIA files); skips if absent."""
    if not SAMPLES_DIR.is_dir():
        pytest.skip(f"shared sample data not found at {SAMPLES_DIR} (clone with ../shared beside)")
    return SAMPLES_DIR


# Ops whose output shape or value the host must read from the device: each one is a
# host-device synchronization on a GPU.
SYNCING_OPS = {"nonzero", "_local_scalar_dense", "masked_select", "unique", "_unique2",
               "is_nonzero", "item", "equal"}


def _syncing_ops(fn) -> list[str]:
    """The syncing ops (and boolean-mask indexings) that ``fn()`` runs, in order."""
    import torch
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
