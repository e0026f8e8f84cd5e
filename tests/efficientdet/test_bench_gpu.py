"""bench/gpu.py --quick runs on the CPU and prints one JSON object with every section."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_gpu_bench_quick_prints_one_json_object():
    proc = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "gpu.py"), "--quick", "--size", "128",
         "--iters", "1", "--warmup", "0", "--infer-batch-sizes", "1", "2",
         "--train-batch-sizes", "2", "--device", "cpu"],
        capture_output=True, text=True, cwd=ROOT, timeout=170,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    result = json.loads(proc.stdout)  # the whole stdout is one JSON object
    assert result["device"] == "cpu" and result["gpu"] == "not available"
    assert result["quick"] is True and result["img_size"] == 128
    assert set(result["inference"]) == {"fp32_batch1", "fp32_batch2", "bf16_batch1", "bf16_batch2"}
    for key, entry in result["inference"].items():
        assert entry["ours_images_per_s"] > 0 and entry["effdet_images_per_s"] > 0, key
        assert entry["ours_ms_per_batch"] > 0 and entry["speedup_vs_effdet"] > 0, key
        assert entry["peak_memory_mib"] is None  # no CUDA
    # the batched post-processing gives effdet's detections exactly
    assert result["inference"]["fp32_batch2"]["detections_identical_to_effdet"] is True
    assert set(result["training"]) == {"fp32_batch2", "bf16_batch2"}
    for key, entry in result["training"].items():
        assert entry["ours_images_per_s"] > 0 and entry["effdet_images_per_s"] > 0, key
        assert entry["syncs_per_train_step"] == {"ours": None, "effdet": None}
