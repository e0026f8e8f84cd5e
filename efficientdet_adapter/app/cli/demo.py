"""``demo``: the synthetic shapes export written, trained on and scored on held-out images
(``--data-only``: the export alone)."""

from __future__ import annotations

import time
from pathlib import Path

from efficientdet_adapter.app.cli.common import check_output_folder, is_ddp_child, say
from efficientdet_adapter.app.cli.training_flags import (
    DEMO_DEFAULTS, add_training_args, check_training_args, resolve_auto, run_pictures,
    train_and_save, train_options)
from efficientdet_adapter.app.cli.values import number
from efficientdet_adapter.app.runs import DEMO_NUM_IMAGES, check_trainable, evaluate, load_splits, print_metrics, save_run, use_epoch_lines, write_predictions
from efficientdet_adapter.base.errors import UsageError
from efficientdet_adapter.parsers.formats import FORMATS
from efficientdet_adapter.training.interrupts import stop_on_sigterm


MIN_DEMO_IMAGES = 10  # 7 train, 2 valid, 1 test


def _write_demo_data(out: Path, args, start: float) -> int:
    """``demo --data-only``: the synthetic export alone, in ``--format``, summarized as parsed."""
    from efficientdet_adapter.app.demo import split_summary, write_demo_dataset  # noqa: PLC0415
    from efficientdet_adapter.parsers import RoboflowParser  # noqa: PLC0415

    try:
        write_demo_dataset(out, num_images=args.num_images, seed=args.seed, format=args.format)
    except FileExistsError as e:
        raise UsageError(f"--out {out}: {e}") from None
    seconds = time.perf_counter() - start
    parser = RoboflowParser(out)  # read it back: the summary shows what a parser sees
    splits = dict(zip(parser.split_names, parser.parse()))
    say(f"wrote {args.num_images} images as a Roboflow {args.format} export to {out} "
          f"in {seconds:.2f} s")
    print(f"  classes: {', '.join(parser.class_map.foreground)}")
    print("\n".join(split_summary(splits)))
    return 0


def cmd_demo(args) -> int:
    from efficientdet_adapter.training.run_lock import hold_run_folder  # noqa: PLC0415

    if is_ddp_child():  # DDP's other ranks run under rank 0's lock
        return _demo(args)
    with stop_on_sigterm(), hold_run_folder(check_output_folder(args.out)):  # as train
        return _demo(args)


def _demo(args) -> int:
    from efficientdet_adapter.app.demo import write_demo_dataset  # noqa: PLC0415

    out = check_output_folder(args.out)
    start = time.perf_counter()
    if args.data_only:
        return _write_demo_data(out, args, start)
    if args.format != "coco":
        raise UsageError(f"--format {args.format}: the demo trains on its COCO export; "
                         "other formats need --data-only")
    try:
        data = write_demo_dataset(out / "data", num_images=args.num_images, seed=args.seed)
    except FileExistsError as e:
        raise UsageError(f"--out {out}: {e}") from None
    train, valid, test, class_map, _ = load_splits(data, "coco", args.seed)
    opts = train_options(args)
    resolve_auto(opts, train)
    check_trainable(train, valid, opts)
    print(f"demo data: {len(train)} train, {len(valid)} valid, {len(test)} held-out test images "
          f"in {data}; training {opts.model_name} at {opts.img_size} px for {opts.epochs} epochs "
          f"({opts.engine}, backbone: {opts.pretrained_backbone})")
    model, ckpt, train_s, train_cpu = train_and_save(train, valid, class_map, opts, out,
                                                               {"demo": True})
    held_out = test or valid
    metrics, preds = evaluate(model, held_out, show_pbar=not use_epoch_lines(opts))
    final = {"test": metrics, "train_seconds": round(train_s, 1),
             "train_cpu_seconds": round(train_cpu, 1),
             "total_seconds": round(time.perf_counter() - start, 1)}
    save_run(model, class_map, opts, valid, out, final, {"demo": True}, preds)
    results = write_predictions([p.with_threshold(0.5) for p in preds], out / "predictions",
                                min_score=0.0)
    print_metrics(f"COCOMetric on {len(held_out)} held-out demo images "
                  f"(training took {train_s:.0f} s):", metrics, held_out)
    say(f"wrote {ckpt}, {out / 'metrics.csv'}, {run_pictures(out)}, {results} and annotated "
          f"images in {out / 'predictions'}")
    print(f"total time {time.perf_counter() - start:.0f} s")
    return 0


def add_command(sub) -> None:
    """Add ``demo`` to the subcommands."""
    p = sub.add_parser("demo", help="train on the synthetic demo data and score held-out images",
                       description="Write the synthetic shapes dataset, train "
                       "tf_efficientdet_lite0 (packaged ImageNet backbone), print COCOMetric on "
                       "the held-out test images, write predictions and plots to --out.")
    p.add_argument("--out", default="runs/demo", help="output folder (default: %(default)s)")
    p.add_argument("--num-images", type=number(int, low=MIN_DEMO_IMAGES),
                   default=DEMO_NUM_IMAGES,
                   help=f"images to generate over train/valid/test, at least {MIN_DEMO_IMAGES} "
                        "(default: %(default)s)")
    p.add_argument("--data-only", action="store_true",
                   help="write the synthetic export to --out and stop (no training)")
    p.add_argument("--format", default="coco", choices=FORMATS,
                   help="annotation format of the export with --data-only "
                        "(default: %(default)s)")
    add_training_args(p, DEMO_DEFAULTS)
    p.set_defaults(func=cmd_demo, check=check_training_args)
