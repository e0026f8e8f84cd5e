"""``train``: a run on a dataset export, or ``--resume`` of one."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

from efficientdet_adapter.app.cli.common import (
    FORMATS_OR_AUTO, check_output_folder, data_arg, inside, is_ddp_child, say)
from efficientdet_adapter.app.cli.resume import given_options, resume_args
from efficientdet_adapter.app.cli.training_flags import (
    TRAIN_DEFAULTS, add_check_images, add_training_args, check_run_options, check_training_args,
    epochs_text, print_class_scores, report_fixes, resolve_auto, run_pictures, train_and_save,
    train_options)
from efficientdet_adapter.app.run_config import RUN_FOLDER_ENV, next_run_folder, write_run_args
from efficientdet_adapter.app.runs import check_trainable, evaluate, print_metrics, save_run, use_epoch_lines
from efficientdet_adapter.base.errors import UsageError
from efficientdet_adapter.training.interrupts import stop_on_sigterm


def cmd_train(args) -> int:
    # the run folder's lock, released however the run ends; SIGTERM ends it as Ctrl-C does
    with stop_on_sigterm(), contextlib.ExitStack() as held:
        return _train(args, held)


def _train(args, held: contextlib.ExitStack) -> int:
    from efficientdet_adapter.training.run_splits import load_run_data  # noqa: PLC0415
    from efficientdet_adapter.training.run_lock import hold_run_folder  # noqa: PLC0415
    from efficientdet_adapter.training.state import check_run_folder  # noqa: PLC0415

    if args.resume:
        data, opts, out, fmt = resume_args(args)
        resume: Path | None = out
        if not is_ddp_child():  # one run per folder (DDP's other ranks run under rank 0's)
            held.enter_context(hold_run_folder(out, "--resume"))
    else:
        if not args.data:
            raise UsageError("the following arguments are required: --data (or --resume RUN_DIR)")
        data, fmt, resume = data_arg(args.data), args.format, None
        out = Path(args.out) if args.out else _numbered_run_folder()
        if data.is_dir() and inside(out, data):
            raise UsageError(f"--out {out}: lies inside --data {data}; keep the run's files out "
                             "of the export, choose a folder outside it")
        if not is_ddp_child():
            check_run_folder(out, exist_ok=args.exist_ok)  # before creating anything
        out = check_output_folder(out, inputs=[data])
        if not is_ddp_child():
            held.enter_context(hold_run_folder(out))
            check_run_folder(out, exist_ok=args.exist_ok)  # again, now that no one else writes
        opts = train_options(args)
    check_run_options(opts)
    child = is_ddp_child()
    run_data = load_run_data(data, fmt, opts.seed, check_images=args.check_images)
    train, valid, test, class_map, parser = (run_data.train, run_data.valid, run_data.test,
                                             run_data.class_map, run_data.parser)
    resolve_auto(opts, train, quiet=child or resume is not None)
    check_trainable(train, valid, opts)
    if not child:
        print(f"{len(train)} train, {len(valid)} valid, {len(test)} test images; "
              f"classes {class_map.foreground}; training {opts.model_name} at {opts.img_size} px "
              f"for {epochs_text(opts, resume)} ({opts.engine})"
              + (f"; resuming {out}" if resume else "")
              + (f" on --data {data}" if resume and "--data" in given_options(args) else ""), flush=True)
        report_fixes(parser)
    extra = {"category_ids": {int(k): int(v) for k, v in parser.category_ids.items()},
             "data": str(data.resolve()), "format": fmt,
             "split": run_data.split.to_dict()}  # which images validated: eval reads it
    flags = {"check_images": args.check_images or None, "threads": args.threads}
    if resume is None and not child:  # the run record: train --config OUT/args.yaml reruns it
        write_run_args(out, data, fmt, opts, **flags)
    model, ckpt, train_s, _ = train_and_save(train, valid, class_map, opts, out, extra,
                                                       resume)
    if resume is None and not child and opts.time:  # the epochs the budget fitted
        write_run_args(out, data, fmt, opts, fitted=True, **flags)
    from efficientdet_adapter.app.runs import process_rank  # noqa: PLC0415

    if process_rank() != 0 or child:
        return 0  # DDP: rank 0 scores, plots and reports
    final, preds = evaluate(model, valid, show_pbar=not use_epoch_lines(opts))
    final_row = {"valid": final, "train_seconds": round(train_s, 1), "epochs": opts.epochs,
                 "time_budget_s": opts.time}
    save_run(model, class_map, opts, valid, out, final_row, extra, preds)
    print_metrics(f"COCOMetric on {len(valid)} valid images (best epoch, after {train_s:.0f} s of "
                  "training):", final, valid)
    say(f"wrote {ckpt} (= best.pt), {out / 'last.pt'}, {out / 'metrics.csv'}, "
          f"{run_pictures(out)}")
    print_class_scores(preds, f"{len(valid)} valid images")
    return 0


def _numbered_run_folder() -> Path:
    """``runs/train``, ``runs/train2``...: the first free one (DDP's other ranks get rank 0's)."""

    out = next_run_folder()
    if not is_ddp_child():
        os.environ[RUN_FOLDER_ENV] = str(out)  # the ranks Lightning's DDP starts re-run the command
        print(f"run folder: {out}", flush=True)
    return out


def add_command(sub) -> None:
    """Add ``train`` to the subcommands."""
    p = sub.add_parser("train", help="train on a dataset export (folder or zip)",
                       description="Train on a Roboflow-style export (COCO, VOC, YOLO or CSV): "
                       "writes best.pt and model.pt (the best epoch's weights), last.pt (every epoch; "
                       "--resume continues from it), metrics.csv and PNGs to --out.")
    p.add_argument("--config", metavar="FILE.yaml",
                   help="read train's options from this YAML file (keys: the long option names, "
                        "e.g. epochs: 20; a run's args.yaml reruns it); flags given here win")
    p.add_argument("--data", help="the export folder, .zip or YOLO data.yaml (required unless "
                                  "--resume)")
    p.add_argument("--format", default="auto", choices=FORMATS_OR_AUTO,
                   help="annotation format (default: %(default)s = detect)")
    p.add_argument("--out", default=None, help="output folder (default: runs/train, then "
                   "runs/train2, runs/train3...); a folder holding an earlier run is refused "
                   "unless --resume or --exist-ok")
    p.add_argument("--resume", metavar="RUN_DIR",
                   help="continue the run in RUN_DIR from its last.pt (its data and options; "
                        "the next epoch starts exactly where the last finished one left off)")
    p.add_argument("--exist-ok", action="store_true",
                   help="train into --out even if it holds an earlier run (its files are replaced)")
    add_check_images(p)
    add_training_args(p, TRAIN_DEFAULTS)
    p.set_defaults(func=cmd_train, check=check_training_args)
