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
         "--train-batch-sizes", "2", "--files", "4", "--train-workers", "2", "--device", "cpu"],
        capture_output=True, text=True, cwd=ROOT, timeout=170,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    result = json.loads(proc.stdout)  # the whole stdout is one JSON object
    assert result["device"] == "cpu" and result["gpu"] == "not available"
    assert result["quick"] is True and result["img_size"] == 128
    assert set(result["inference"]) == {"fp32_batch1", "fp32_batch2", "bf16_batch1", "bf16_batch2"}
    for key, entry in result["inference"].items():
        for name in ("ours", "effdet", "accelerated"):
            assert entry[f"{name}_images_per_s"] > 0 and entry[f"{name}_ms_per_batch"] > 0, key
        assert entry["speedup_vs_effdet"] > 0 and entry["peak_memory_mib"] is None, key
        assert "channels_last=True" in entry["accelerated"], key
    # the batched post-processing gives effdet's detections exactly; channels_last stays close
    assert result["inference"]["fp32_batch2"]["detections_identical_to_effdet"] is True
    assert result["inference"]["fp32_batch2"]["accelerated_top1_max_box_diff_px"] <= 1e-3
    assert result["inference"]["fp32_batch2"]["accelerated_top1_max_score_diff"] <= 1e-4
    files = result["predict_files"]
    assert files["files"] == 4 and files["sides_px"] == [96, 160]
    for name in ("no_workers", "2_workers", "accelerated_bf16_2_workers"):
        assert files[f"{name}_images_per_s"] > 0, name
    assert {"fp32_batch2", "bf16_batch2"} <= set(result["training"])
    for key in ("fp32_batch2", "bf16_batch2"):
        entry = result["training"][key]
        for name in ("ours", "ours_channels_last", "effdet", "fastai", "fastai_with_fastai_adam",
                     "lightning"):
            assert entry[f"{name}_images_per_s"] > 0, (key, name)
        assert entry["syncs_per_train_step"] == {"ours": None, "ours_channels_last": None,
                                                 "effdet": None}
    loader = result["training_loader"]
    assert loader["batch_size"] == 2 and loader["workers"] == 2
    for key in ("fp32", "bf16"):
        for name in ("lightning", "lightning_labels_in_workers", "fastai"):
            assert loader[key][f"{name}_images_per_s"] > 0, (key, name)
