"""Data for the notebooks: IceVision's conversions find their files where they look for them."""

from __future__ import annotations

import csv
import shutil
from pathlib import Path
from urllib.parse import urlparse

import pytest
import torch

from efficientdet_adapter.app.demo import demo_records

SHARED = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "icevision-samples"


def _coco_weights(torch_home: Path, model_name: str) -> None:
    """effdet's COCO weight file in the torch hub cache, made from a random network: what
    ``backbone(pretrained=True)`` loads, through the real loading code, offline."""
    from effdet import EfficientDet, get_efficientdet_config

    cfg = get_efficientdet_config(model_name)
    dst = torch_home / "hub" / "checkpoints" / Path(urlparse(cfg.url).path).name
    dst.parent.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(0)
    torch.save(EfficientDet(cfg, pretrained_backbone=False).state_dict(), dst)


#: The fridge sample's classes as the COCO categories the stand-in weights predict for them.
FRIDGE_AS_COCO = {"milk_bottle": "bottle", "water_bottle": "bottle", "can": "cup", "carton": "cup"}


def _coco_stand_in(torch_home: Path, fridge: Path, steps: int = 100, lr: float = 2e-2) -> None:
    """effdet's tf_efficientdet_lite0 COCO weight file in the torch hub cache, made offline: the
    packaged ImageNet backbone and a COCO-shaped head (90 classes) trained for ``steps`` steps on
    the fridge sample, its bottles as COCO's "bottle" and its cans and cartons as "cup". The
    inference notebook then draws real boxes, with the normalization of the Lite model: after
    100 steps at 2e-2 every fridge image has a box scored 0.7 or more (60 steps at 3e-3 left the
    best under 0.35, and the notebook's grids empty at its thresholds 0.33 and 0.5)."""
    from effdet import get_efficientdet_config

    from efficientdet_adapter import Dataset, efficientdet, parsers, tfms
    from efficientdet_adapter.model.icevision import coco_class_map

    coco = coco_class_map()
    parser = parsers.VOCBBoxParser(annotations_dir=fridge / "annotations", images_dir=fridge / "images")
    records = [r for split in parser.parse(data_splitter=parsers.SingleSplitSplitter()) for r in split]
    for r in records:
        r.labels = [FRIDGE_AS_COCO[name] for name in r.labels]
        r.label_ids = [coco.get_by_name(name) for name in r.labels]
        r.class_map = coco
    torch.manual_seed(0)
    model = efficientdet.model(model_name="tf_efficientdet_lite0", num_classes=len(coco),
                               img_size=128, pretrained_backbone="imagenet-lite0")
    ds = Dataset(records, tfms.A.Adapter([*tfms.A.resize_and_pad(128), efficientdet.normalize_tfm(model)]))
    dl = efficientdet.train_dl(ds, batch_size=len(records), num_workers=0, shuffle=True)
    opt = torch.optim.AdamW(model.parameters(), lr=lr)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=steps)
    model.train()
    for _ in range(steps):
        for (images, targets), _records in dl:
            loss = model(images, targets)["loss"]
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
    cfg = get_efficientdet_config("tf_efficientdet_lite0")
    dst = torch_home / "hub" / "checkpoints" / Path(urlparse(cfg.url).path).name
    dst.parent.mkdir(parents=True, exist_ok=True)
    torch.save(model.model.state_dict(), dst)


@pytest.fixture(scope="session")
def notebook_dir(tmp_path_factory) -> Path:
    """A working folder with the notebooks' data: IceVision's fridge sample (as the fridge
    download and the raccoon clone), a chess-style CSV set and image-only "pets" made from the
    demo generator, and a torch hub cache holding tf_efficientdet_lite0's COCO weight file."""
    if not (SHARED / "fridge").is_dir():
        pytest.skip(f"IceVision's fridge sample not found at {SHARED} (clone with ../shared beside)")
    root = tmp_path_factory.mktemp("notebooks")
    shutil.copytree(SHARED / "fridge", root / "fridge" / "odFridgeObjects")
    shutil.copytree(SHARED / "fridge", root / "raccoon_dataset")
    demo = demo_records(root / "_demo", num_images=10, splits=(1.0, 0, 0), min_size=160,
                        max_size=200)["train"]
    chess = root / "chess_sample" / "chess_sample-master"
    (chess / "images").mkdir(parents=True)
    with open(chess / "annotations.csv", "w", newline="") as f:
        rows = csv.writer(f)
        rows.writerow(["filename", "width", "height", "label", "xmin", "ymin", "xmax", "ymax"])
        for r in demo:
            shutil.copy(r.filepath, chess / "images" / r.filepath.name)
            for label, box in zip(r.labels, r.bboxes):
                rows.writerow([r.filepath.name, r.width, r.height, label,
                               *[round(v) for v in box.xyxy]])
    (root / "pets" / "images").mkdir(parents=True)
    for r in demo[:6]:
        shutil.copy(r.filepath, root / "pets" / "images" / r.filepath.name)
    (root / "images").mkdir()
    for p in sorted((SHARED / "fridge" / "images").glob("*.jpg")):
        shutil.copy(p, root / "images" / p.name)
    shutil.copy(SHARED / "fridge" / "images" / "10.jpg", root / "small_fridge.jpg")
    voc = root / "VOC2012"
    shutil.copytree(SHARED / "voc", voc)
    (voc / "ImageSets" / "Main").mkdir(parents=True)
    (voc / "ImageSets" / "Main" / "aeroplane_train.txt").write_text("2007_000063 -1\n")
    (voc / "ImageSets" / "Main" / "aeroplane_val.txt").write_text("2011_003353 -1\n")
    _coco_weights(root / "torch_home", "tf_efficientdet_lite1")
    _coco_stand_in(root / "torch_home", SHARED / "fridge")
    return root
