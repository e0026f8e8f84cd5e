"""devices: one device resolver, one precision vocabulary with one mapping to each engine."""

from __future__ import annotations

import pytest
import torch

from efficientdet_adapter.base.devices import (
    busy_cores,
    threads_for,
    CANONICAL,
    choose_precision,
    engine_precision,
    normalize_precision,
    resolve_device,
    resolve_precision,
)
from efficientdet_adapter.base.errors import UsageError


@pytest.mark.parametrize("spelling, canonical", [
    ("32", "fp32"), ("fp32", "fp32"), ("32-true", "fp32"), (32, "fp32"),
    ("16-mixed", "fp16"), ("fp16", "fp16"), ("16", "fp16"),
    ("bf16-mixed", "bf16"), ("bf16", "bf16"), ("BF16", "bf16"), ("auto", "auto"),
])
def test_every_spelling_reads_into_one_vocabulary(spelling, canonical):
    assert normalize_precision(spelling) == canonical


@pytest.mark.parametrize("engine, expected", [
    ("lightning", ("32", "16-mixed", "bf16-mixed")),
    ("fastai", (None, "to_fp16", "to_bf16")),
    ("torch", (None, torch.float16, torch.bfloat16)),
])
def test_one_mapping_to_each_engine(engine, expected):
    assert tuple(engine_precision(p, engine) for p in CANONICAL) == expected
    assert engine_precision("16-mixed", engine) == expected[1]  # any spelling in


def test_auto_and_refusals(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: False)
    assert choose_precision("auto", "cpu") == "fp32"
    assert choose_precision("auto", "cuda") == "fp16"  # no bfloat16 on this GPU
    assert choose_precision("auto", "cuda", training=False) == "fp16"
    assert choose_precision("fp16", "cpu", training=False) == "fp16"  # inference may try it
    assert resolve_precision("auto", "cuda") == "16-mixed"  # the command line's spelling
    with pytest.raises(UsageError, match=r"--precision 16-mixed on cpu: mixed precision needs"):
        choose_precision("16-mixed", "cpu")
    with pytest.raises(UsageError, match=r"precision='half': choose one of auto, fp32, fp16"):
        normalize_precision("half", option="precision")
    with pytest.raises(UsageError, match="resolve 'auto' first"):
        engine_precision("auto", "lightning")


def test_one_device_resolver(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert resolve_device("auto") == "cpu"
    assert resolve_device(torch.device("cpu")) == "cpu"
    with pytest.raises(UsageError, match=r"^--device cuda: PyTorch sees no CUDA GPU on this "
                                         r"machine; use --device cpu"):
        resolve_device("cuda")
    with pytest.raises(UsageError, match=r"^device='gpu0': 'gpu0' is not a device; use 'auto'"):
        resolve_device("gpu0", option="device")


def test_threads_for_a_busy_machine_leave_the_busy_cores_alone():
    assert threads_for(2, 2, None) == 2  # unknown (no /proc/stat): PyTorch's choice
    assert threads_for(2, 2, 0.0) == 2 and threads_for(2, 2, 0.4) == 2
    assert threads_for(2, 2, 0.6) == 1 and threads_for(2, 2, 3.9) == 1  # at least one
    assert threads_for(4, 16, 2.0) == 4  # never more than PyTorch's choice
    assert threads_for(16, 16, 5.2) == 11


def test_busy_cores_sees_a_process_that_spins(tmp_path):
    import os
    import subprocess
    import sys

    if not os.path.exists("/proc/stat"):
        pytest.skip("no /proc/stat: busy_cores returns None here")
    spin = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        import time

        time.sleep(0.3)
        busy = busy_cores(0.5)
    finally:
        spin.kill()
        spin.wait()
    assert busy is not None and 0.8 <= busy <= os.cpu_count()
