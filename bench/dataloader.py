"""Training-loader throughput: decode + augment + batch, in images per second. Prints JSON.

Usage::

    python bench/dataloader.py              # about 1 minute on 2 idle CPU cores

Workload (the IceVision comparison recipe): 256 generated 640x480 JPEG files with 1-5 boxes each,
``tfms.A.aug_tfms(384, presize=512)`` plus ``tfms.A.Normalize()``, batches of 16.

Every measurement runs ``rounds`` times, interleaved, and the median is reported, plus images
per second of the process's own CPU time (``ips_per_cpu_second``), which stays meaningful when
other jobs share the cores. Measured:

- ``floor``: our decode (``open_img``) plus the same albumentations call, in a plain loop:
  the work itself, without Dataset, batching or DataLoader.
- ``train_dl_workers0`` / ``train_dl_workers2``: ``efficientdet.train_dl`` over a
  ``Dataset`` (shuffled, ``num_workers`` 0 or 2, persistent workers), the second epoch.
- ``icevision_order_floor``: for reference on the same (shared, noisy) machine, Pillow decode
  plus IceVision's own transform order (every augmentation on the presized image, crop/resize
  last) and albumentations' ``Normalize``: what IceVision's floor costs with today's libraries.

IceVision 0.12 measured on this machine: 102-107 images/s (workers 0), 127 (2 workers), 107 for
decode plus augmentation alone.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from PIL import Image, ImageOps  # noqa: E402

from efficientdet_adapter import BBox, ClassMap, Record  # noqa: E402
from efficientdet_adapter.records.dataset import Dataset  # noqa: E402
from efficientdet_adapter.records.images import open_img  # noqa: E402
from efficientdet_adapter.tfms import A  # noqa: E402

NUM_IMAGES, WIDTH, HEIGHT = 256, 640, 480
SIZE, PRESIZE, BATCH = 384, 512, 16


def write_images(folder: Path, seed: int = 0) -> list[Record]:
    """JPEGs with smooth gradients, texture and solid objects (compress like photos)."""
    rng = np.random.default_rng(seed)
    cm = ClassMap(["a", "b", "c"])
    y, x = np.mgrid[0:HEIGHT, 0:WIDTH]
    records = []
    for i in range(NUM_IMAGES):
        phase = rng.uniform(0, 255)
        img = np.stack([x * 255 / WIDTH, y * 255 / HEIGHT, (x + y + phase) % 256], -1)
        img = img + rng.normal(0, 12, img.shape)
        boxes, labels = [], []
        for _ in range(int(rng.integers(1, 6))):
            w, h = rng.integers(30, 200, 2)
            x0, y0 = rng.integers(0, WIDTH - w), rng.integers(0, HEIGHT - h)
            img[y0:y0 + h, x0:x0 + w] = rng.integers(0, 256, 3)
            boxes.append(BBox.from_xywh(x0, y0, w, h))
            labels.append(str(rng.choice(["a", "b", "c"])))
        path = folder / f"{i:04d}.jpg"
        Image.fromarray(np.clip(img, 0, 255).astype(np.uint8)).save(path, quality=90)
        record = Record(record_id=i, filepath=path, width=WIDTH, height=HEIGHT,
                        bboxes=boxes, labels=labels)
        record.resolve_label_ids(cm)
        records.append(record)
    return records


def icevision_order_pipeline():
    """IceVision's aug_tfms order on albumentations 2 (for reference only)."""
    import albumentations as albu

    return albu.Compose(
        [
            albu.SmallestMaxSize(PRESIZE),
            albu.HorizontalFlip(),
            albu.Affine(translate_percent=(-0.0625, 0.0625), scale=(0.9, 1.1), keep_ratio=True,
                        rotate=(-15, 15), border_mode=0, p=0.5),
            albu.RGBShift(10, 10, 10),
            albu.RandomBrightnessContrast(),
            albu.Blur(blur_limit=(3, 3), p=0.25),
            albu.OneOrOther(albu.RandomSizedBBoxSafeCrop(SIZE, SIZE, p=1.0),
                            albu.LongestMaxSize(SIZE), p=0.5),
            albu.PadIfNeeded(SIZE, SIZE, border_mode=0, fill=A.DEFAULT_PAD_COLOR),
            albu.Normalize(),
        ],
        bbox_params=albu.BboxParams(format="pascal_voc", label_fields=["labels"], clip=True),
    )


class Clock:
    """Wall time and this process's CPU time (robust to other users of a shared machine)."""

    def __enter__(self):
        self.wall, self.cpu = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc):
        self.wall = time.perf_counter() - self.wall
        self.cpu = time.process_time() - self.cpu


def time_floor(records, adapter) -> Clock:
    with Clock() as clock:
        for r in records:
            img = open_img(r.filepath)
            adapter.apply(img, np.array([b.xyxy for b in r.bboxes], np.float32))
    return clock


def time_icevision_order(records, pipeline) -> Clock:
    with Clock() as clock:
        for r in records:
            with Image.open(r.filepath) as im:
                img = np.asarray(ImageOps.exif_transpose(im).convert("RGB"))
            pipeline(image=img, bboxes=np.array([b.xyxy for b in r.bboxes], np.float32),
                     labels=r.label_ids)
    return clock


def time_epoch(dl) -> tuple[Clock, int]:
    n = 0
    with Clock() as clock:
        for (images, _targets), _records in dl:
            n += images.shape[0]
    return clock, n


def main(rounds: int = 3) -> None:
    """Interleaves the measurements in ``rounds`` so that load from others hits all alike."""
    import cv2
    import torch

    from efficientdet_adapter.loop.dataloaders import train_dl

    adapter = A.Adapter([*A.aug_tfms(SIZE, presize=PRESIZE), A.Normalize()])
    reference = icevision_order_pipeline()
    wall: dict[str, list[float]] = {}
    cpu: dict[str, list[float]] = {}

    def note(name, clock, n):
        wall.setdefault(name, []).append(n / clock.wall)
        if clock.cpu > 0:
            cpu.setdefault(name, []).append(n / clock.cpu)

    with tempfile.TemporaryDirectory() as tmp:
        records = write_images(Path(tmp))
        dataset = Dataset(records, adapter)
        loaders = {
            w: train_dl(dataset, batch_size=BATCH, shuffle=True, num_workers=w,
                        persistent_workers=w > 0)
            for w in (0, 2)
        }
        for dl in loaders.values():  # first epoch: warm-up (workers start, caches fill)
            time_epoch(dl)
        for _ in range(rounds):
            note("floor", time_floor(records, adapter), len(records))
            note("icevision_order_floor", time_icevision_order(records, reference), len(records))
            for w, dl in loaders.items():
                clock, n = time_epoch(dl)
                note(f"train_dl_workers{w}", clock, n)
        del loaders

    def med(values):
        return round(float(np.median(values)), 1)

    result = {
        "images": NUM_IMAGES,
        "image_size": [WIDTH, HEIGHT],
        "recipe": f"aug_tfms({SIZE}, presize={PRESIZE}) + Normalize, batch {BATCH}",
        "rounds": rounds,
        "ips_median": {k: med(v) for k, v in wall.items()},
        "ips_all": {k: [round(x, 1) for x in v] for k, v in wall.items()},
        # images per second of this process's own CPU time (workers excluded): what the numbers
        # would be on an idle core, whatever else runs on the machine
        "ips_per_cpu_second": {k: med(v) for k, v in cpu.items() if "workers2" not in k},
    }
    m = result["ips_median"]
    result["train_dl_workers0_vs_floor"] = round(m["train_dl_workers0"] / m["floor"], 3)
    result["floor_vs_icevision_order_floor"] = round(m["floor"] / m["icevision_order_floor"], 2)
    result["load_average"] = [round(x, 2) for x in os.getloadavg()]
    result["threads"] = {"torch": torch.get_num_threads(), "cv2": cv2.getNumThreads(),
                         "cpus": os.cpu_count()}
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
