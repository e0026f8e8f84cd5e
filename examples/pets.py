"""The PETS example: IceVision's getting-started notebook, with only the imports changed.

Trains EfficientDet-Lite0 on the Oxford-IIIT Pet dataset (Pascal VOC boxes around pet heads).
Download and extract the dataset's ``images`` and ``annotations`` archives yourself, then:

    python examples/pets.py --data /path/to/oxford-iiit-pet        # holds images/ and annotations/xmls/

Offline (and in this project's tests), ``--demo DIR`` first writes the synthetic demo data in the
same folder layout, so the same code path runs without a download:

    python examples/pets.py --demo /tmp/pets --epochs 1 --size 128 --presize 160
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

from efficientdet_adapter import COCOMetric, COCOMetricType, Dataset, parsers, tfms
from efficientdet_adapter.app.demo import write_demo_dataset
from efficientdet_adapter import efficientdet


def write_pets_layout(out_dir: Path, num_images: int) -> Path:
    """Synthetic demo images in the Oxford-IIIT Pet layout: ``images/*.jpg``, ``annotations/xmls/*.xml``."""
    export = write_demo_dataset(out_dir / "_export", num_images=num_images, seed=0, format="voc")
    (out_dir / "images").mkdir(parents=True, exist_ok=True)
    (out_dir / "annotations" / "xmls").mkdir(parents=True, exist_ok=True)
    for xml in sorted(export.glob("*/*.xml")):
        shutil.copy(xml, out_dir / "annotations" / "xmls" / xml.name)
        shutil.copy(xml.with_suffix(".jpg"), out_dir / "images" / xml.with_suffix(".jpg").name)
    shutil.rmtree(out_dir / "_export")
    return out_dir


def main(argv: list[str] | None = None) -> dict[str, float]:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    where = ap.add_mutually_exclusive_group(required=True)
    where.add_argument("--data", type=Path, help="the extracted Oxford-IIIT Pet folder")
    where.add_argument("--demo", type=Path, help="write synthetic demo data here in the PETS layout")
    ap.add_argument("--num-images", type=int, default=48, help="demo images (with --demo)")
    ap.add_argument("--epochs", type=int, default=10)
    ap.add_argument("--lr", type=float, default=1e-2)
    ap.add_argument("--size", type=int, default=384)
    ap.add_argument("--presize", type=int, default=512)
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--num-workers", type=int, default=4)
    ap.add_argument("--save-path", type=Path, default=None, help="write show_results here (PNG)")
    args = ap.parse_args(argv)
    data_dir = write_pets_layout(args.demo, args.num_images) if args.demo else args.data

    # ---- from here on, IceVision's PETS example -------------------------------------------
    parser = parsers.VOCBBoxParser(
        annotations_dir=data_dir / "annotations" / "xmls", images_dir=data_dir / "images"
    )
    train_records, valid_records = parser.parse()
    class_map = parser.class_map

    size, presize = args.size, args.presize
    model = efficientdet.model(
        model_name="tf_efficientdet_lite0", num_classes=len(class_map), img_size=size,
        pretrained_backbone="imagenet-lite0",
    )
    normalize = efficientdet.normalize_tfm(model)  # lite models use mean = std = 0.5
    train_tfms = tfms.A.Adapter([*tfms.A.aug_tfms(size=size, presize=presize), normalize])
    valid_tfms = tfms.A.Adapter([*tfms.A.resize_and_pad(size), normalize])
    train_ds = Dataset(train_records, train_tfms)
    valid_ds = Dataset(valid_records, valid_tfms)

    train_dl = efficientdet.train_dl(train_ds, batch_size=args.batch_size, num_workers=args.num_workers, shuffle=True)
    valid_dl = efficientdet.valid_dl(valid_ds, batch_size=args.batch_size, num_workers=args.num_workers, shuffle=False)

    metrics = [COCOMetric(metric_type=COCOMetricType.bbox)]
    learn = efficientdet.fastai.learner(dls=[train_dl, valid_dl], model=model, metrics=metrics)
    learn.fine_tune(args.epochs, args.lr, freeze_epochs=1)

    efficientdet.show_results(model, valid_ds, detection_threshold=0.5, save_path=args.save_path)
    # ----------------------------------------------------------------------------------------
    final = {name: float(value) for name, value in zip(learn.recorder.metric_names[1:], learn.recorder.values[-1])}
    print(final)
    return final


if __name__ == "__main__":
    main()
