"""``check``: a dataset health report before training."""

from __future__ import annotations

from pathlib import Path

from efficientdet_adapter.app.cli.common import FORMATS_OR_AUTO, check_output_file, data_arg, inside, say
from efficientdet_adapter.app.cli.training_flags import TRAIN_DEFAULTS
from efficientdet_adapter.app.cli.values import img_size_or_auto
from efficientdet_adapter.base.errors import UsageError


def cmd_check(args) -> int:
    from efficientdet_adapter.app.check import check_dataset  # noqa: PLC0415

    data = data_arg(args.data)
    png = Path(args.png) if args.png else None
    if png is not None:
        if data.is_dir() and inside(png, data):
            raise UsageError(f"--png {png}: lies inside --data {data}; keep the report out of "
                             "the export, choose a file outside it")
        png = check_output_file(png, "--png", inputs=[data])
    report = check_dataset(data, img_size=args.img_size, model_name=args.model,
                           format=args.format)
    say(report.table())
    if png is not None:
        say(f"wrote {report.save_png(png)}")
    return 0


def add_command(sub) -> None:
    """Add ``check`` to the subcommands."""
    p = sub.add_parser("check", help="a dataset health report before training",
                       description="Check an export before training: images and boxes per split "
                       "and class, images without boxes, boxes too small for the model's "
                       "smallest anchor at --img-size, parse fixes, near-duplicate images across "
                       "splits, class imbalance. Prints a table; --png saves a summary picture.")
    p.add_argument("--data", required=True, help="the export folder or .zip")
    p.add_argument("--format", default="auto", choices=FORMATS_OR_AUTO,
                   help="annotation format (default: %(default)s = detect)")
    p.add_argument("--img-size", type=img_size_or_auto, default=TRAIN_DEFAULTS.img_size,
                   help="the --img-size you will train at, or auto: the size train --img-size "
                        "auto picks (default: %(default)s, train's)")
    p.add_argument("--model", default="tf_efficientdet_lite0",
                   help="effdet model whose anchors the boxes are compared with (default: "
                        "%(default)s)")
    p.add_argument("--png", default=None, help="also save the summary as this PNG file")
    p.set_defaults(func=cmd_check)
