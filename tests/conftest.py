"""Fixtures shared by the whole suite."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

# Keep the suite light on a 2-core machine: one intra-op thread per test process.
os.environ.setdefault("OMP_NUM_THREADS", "1")

REPO_ROOT = Path(__file__).resolve().parents[1]
SAMPLES_DIR = REPO_ROOT.parent / "shared" / "data" / "icevision-samples"


@pytest.fixture(scope="session")
def samples_dir() -> Path:
    """``../shared/data/icevision-samples`` (real COCO, VOC, fridge, VIA files); skips if absent."""
    if not SAMPLES_DIR.is_dir():
        pytest.skip(f"shared sample data not found at {SAMPLES_DIR} (clone with ../shared beside)")
    return SAMPLES_DIR
