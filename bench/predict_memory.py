"""Peak memory (RSS) of ``efficientdet-adapter predict`` on one big photo.

Writes a 7360x4912 PNG (36.2 Mpx, a full-frame camera's size; smooth gradients and shapes, so the
file is small but decodes to 108 MB of pixels) and an untrained ``tf_efficientdet_lite0``
checkpoint, then runs ``predict`` in a fresh process for each case (annotated PNGs, and
``--no-images``) and prints one JSON object: the peak RSS of each run in MB, read by
``getrusage`` in a wrapper process that runs only that command. The goal (issue 23): under
2 GB. Not a test: it takes a minute and depends on the machine.

Usage: ``python bench/predict_memory.py [--width 7360 --height 4912]``
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

REPO = Path(__file__).resolve().parents[1]
WRAPPER = (
    "import resource, subprocess, sys\n"
    "rc = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL).returncode\n"
    "print(rc, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n"
)


def big_photo(path: Path, width: int, height: int) -> Path:
    x = np.linspace(0, 255, width, dtype=np.float32)
    y = np.linspace(0, 255, height, dtype=np.float32)[:, None]
    rgb = np.stack([np.broadcast_to(x, (height, width)), np.broadcast_to(y, (height, width)),
                    np.full((height, width), 128, np.float32)], axis=-1).astype(np.uint8)
    im = Image.fromarray(rgb)
    draw = ImageDraw.Draw(im)
    for i in range(20):
        x0, y0 = (i * 347) % (width - 600), (i * 211) % (height - 600)
        draw.ellipse((x0, y0, x0 + 500, y0 + 400), fill=(255, 255 - i * 10, i * 10))
    im.save(path, compress_level=1)
    return path


def checkpoint(path: Path) -> Path:
    from efficientdet_adapter.checkpoint import save_checkpoint
    from efficientdet_adapter.records.class_map import ClassMap
    from efficientdet_adapter.model.model import model

    cm = ClassMap(["a", "b"])
    return save_checkpoint(model(model_name="tf_efficientdet_lite0", num_classes=len(cm),
                                 img_size=384, pretrained_backbone=False), path, cm)


def peak_mb(args: list[str]) -> tuple[int, float]:
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    proc = subprocess.run([sys.executable, "-c", WRAPPER, sys.executable, "-m",
                           "efficientdet_adapter", "predict", *args],
                          env=env, capture_output=True, text=True, check=True)
    rc, kb = proc.stdout.split()
    return int(rc), int(kb) / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--width", type=int, default=7360)
    parser.add_argument("--height", type=int, default=4912)
    a = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        photo = big_photo(tmp / "photo.png", a.width, a.height)
        ckpt = checkpoint(tmp / "model.pt")
        result = {"image": f"{a.width}x{a.height}", "mpx": round(a.width * a.height / 1e6, 1),
                  "png_mb": round(photo.stat().st_size / 1e6, 1),
                  "machine": f"{platform.machine()} {os.cpu_count()} CPUs"}
        for name, extra in (("annotated", []), ("no_images", ["--no-images"])):
            rc, mb = peak_mb([str(photo), "--checkpoint", str(ckpt), "--out",
                              str(tmp / f"out_{name}"), "--device", "cpu",
                              "--max-pixels", str(a.width * a.height), *extra])
            result[f"peak_rss_mb_{name}"] = round(mb)
            result[f"exit_{name}"] = rc
        result["goal_mb"] = 2048
        result["ok"] = all(result[f"peak_rss_mb_{n}"] < 2048 for n in ("annotated", "no_images"))
        print(json.dumps(result))


if __name__ == "__main__":
    main()
