"""``eval`` (alias ``val``): COCOMetric of a checkpoint or ONNX export on one split."""

from __future__ import annotations

import json
import sys

from efficientdet_adapter.app.cli.common import FORMATS_OR_AUTO, CHECKPOINT_HELP, check_output_file, checkpoint_arg, data_arg, say
from efficientdet_adapter.app.cli.training_flags import add_check_images, print_class_scores, report_fixes
from efficientdet_adapter.app.runs import evaluate, print_metrics
from efficientdet_adapter.base.atomic import atomic_write_text
from efficientdet_adapter.base.devices import resolve_device
from efficientdet_adapter.base.errors import UsageError
from efficientdet_adapter.parsers.formats import SPLIT_NAMES


def cmd_eval(args) -> int:
    from efficientdet_adapter.checkpoints.load import load_for_inference  # noqa: PLC0415
    from efficientdet_adapter.training.run_splits import load_run_data, split_note  # noqa: PLC0415

    data = data_arg(args.data)
    checkpoint = checkpoint_arg(args.checkpoint)
    out = None
    if args.out:
        out = check_output_file(args.out, inputs=[checkpoint, data])
    device = resolve_device(args.device)
    loaded = load_for_inference(checkpoint, device=device)
    model, class_map = loaded.model, loaded.class_map
    # an export without a valid split: the split the run used (run_splits), or a line saying
    # that it cannot be known
    split, note = split_note(loaded.extra, checkpoint)
    run_data = load_run_data(data, args.format, check_images=args.check_images,
                             split=split if args.split != "test" else None)
    train, valid, test, data_map, parser = (run_data.train, run_data.valid, run_data.test,
                                            run_data.class_map, run_data.parser)
    if note and run_data.split.rule == "holdout" and args.split != "test":
        print(note, flush=True)
    report_fixes(parser)
    records = {"train": train, "valid": valid, "test": test}[args.split]
    if not records:
        raise UsageError(f"--split {args.split}: the data has no {args.split} images; choose "
                         "another split")
    if data_map.foreground != class_map.foreground:
        raise UsageError(
            f"--data {args.data}: its classes {data_map.foreground} differ from the checkpoint's "
            f"{class_map.foreground}; evaluate on data annotated with the same classes"
        )
    # a bar only where it can redraw itself: piped output would fill with carriage returns
    metrics, preds = evaluate(model, records, device=device, show_pbar=sys.stderr.isatty())
    print_metrics(f"COCOMetric on {len(records)} {args.split} images:", metrics, records)
    print_class_scores(preds, f"{len(records)} {args.split} images")
    if out is not None:
        atomic_write_text(out, json.dumps(metrics, indent=2))
        say(f"wrote {out}")
    return 0


def add_command(sub) -> None:
    """Add ``eval`` to the subcommands."""
    p = sub.add_parser("eval", aliases=["val"],
                       help="score a checkpoint on a dataset (COCOMetric; alias: val)",
                       description="Print COCOMetric of a checkpoint on one split of an export.")
    p.add_argument("--data", required=True, help="the export folder or .zip")
    p.add_argument("--checkpoint", required=True, help=CHECKPOINT_HELP)
    p.add_argument("--format", default="auto", choices=FORMATS_OR_AUTO)
    p.add_argument("--split", default="valid", choices=SPLIT_NAMES,
                   help="which split to score; test = the export's own test split (default: "
                        "%(default)s)")
    p.add_argument("--out", help="also write the metrics to this JSON file")
    p.add_argument("--device", default="auto",
                   help="auto, cpu, cuda or cuda:N; auto = the GPU when there is one "
                        "(default: %(default)s)")
    add_check_images(p, "scoring")
    p.set_defaults(func=cmd_eval)
