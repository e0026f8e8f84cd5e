"""``export``: a checkpoint as a self-contained ONNX file, a torch.export program or
TorchScript."""

from __future__ import annotations

from pathlib import Path

from efficientdet_adapter.app.cli.common import CHECKPOINT_HELP, check_output_file, checkpoint_arg, need, say
from efficientdet_adapter.app.cli.values import img_size_value, number
from efficientdet_adapter.base.errors import UsageError
from efficientdet_adapter.checkpoints.formats import EXPORT_SUFFIXES, check_export_suffix  # the one table
from efficientdet_adapter.training.interrupts import Terminated


ONNX_OPSETS = (11, 20)  # effdet's padding needs opset 11; 20 is the TorchScript exporter's last


def cmd_export(args) -> int:
    from efficientdet_adapter.checkpoints.load import load_for_inference  # noqa: PLC0415
    from efficientdet_adapter.checkpoints.export import export_onnx, export_program, export_summary, export_torchscript  # noqa: PLC0415
    from efficientdet_adapter.weights.hub import is_url  # noqa: PLC0415

    suffix = EXPORT_SUFFIXES[args.format]
    if args.out:  # checked before any download or work
        check_export_suffix(check_output_file(args.out), args.format)
    checkpoint = checkpoint_arg(args.checkpoint)
    default = Path(checkpoint.name) if is_url(args.checkpoint) else checkpoint  # a URL: here
    out = check_output_file(args.out or default.with_suffix(suffix), inputs=[checkpoint])
    if args.format == "onnx":
        need("onnx", "--format onnx", "export")
    if checkpoint.suffix.lower() == ".onnx":
        raise UsageError(f"--checkpoint {checkpoint}: is an export already; export from the "
                         "model.pt it was written from")
    loaded = load_for_inference(checkpoint)
    model = loaded.model
    try:
        if args.format == "onnx":
            path = export_onnx(model, out, img_size=args.img_size, opset=args.opset,
                               class_map=loaded.class_map, category_ids=loaded.category_ids)
        elif args.format == "torch-export":
            path = export_program(model, out, img_size=args.img_size)
        else:
            path = export_torchscript(model, out)
    except Terminated:  # SIGTERM mid-write: the temporary file is gone, the name untouched
        kept = "the earlier file is intact" if out.exists() else "nothing was written"
        raise Terminated(f"stopped by SIGTERM; {out}: {kept}") from None
    say(export_summary(model, path, args.format, args.img_size))
    return 0


def add_command(sub) -> None:
    """Add ``export`` to the subcommands."""
    p = sub.add_parser("export", help="export a checkpoint to ONNX, torch.export or TorchScript",
                       description="Export a checkpoint. onnx (.onnx): uint8 images in, final "
                       "detections out (NMS inside), class names, size and normalization in its "
                       "metadata; predict and eval run it. torch-export (.pt2, a torch.export "
                       "program): outputs boxes, scores, classes before NMS. "
                       "torchscript (.ts): the bare network's per-level outputs; deprecated "
                       "by torch, kept while torch ships it.")
    p.add_argument("--checkpoint", required=True, help=CHECKPOINT_HELP)
    p.add_argument("--format", default="onnx", choices=tuple(EXPORT_SUFFIXES),
                   help="onnx, torch-export, or torchscript (deprecated) (default: %(default)s)")
    p.add_argument("--out", help="output file (default: beside the checkpoint)")
    p.add_argument("--img-size", type=img_size_value,
                   help="ONNX/torch-export input size, a multiple of 128 (default: the model's)")
    p.add_argument("--opset", type=number(int, low=ONNX_OPSETS[0], high=ONNX_OPSETS[1]),
                   default=17, help=f"ONNX opset, {ONNX_OPSETS[0]}..{ONNX_OPSETS[1]} "
                   "(default: %(default)s)")
    p.set_defaults(func=cmd_export)
