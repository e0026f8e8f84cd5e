"""``predict``: detections for image files, folders and videos, written to a folder apart
from the inputs. The library does the work
([`predict_files`][efficientdet_adapter.inference.prediction.predict_files]: the pixel guard,
unreadable files skipped, the tile warning); this module parses and prints."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from efficientdet_adapter.app.cli.common import PROG, CHECKPOINT_HELP, check_output_folder, checkpoint_arg, inside, same, say
from efficientdet_adapter.app.cli.values import number, overlap_value, tile_value
from efficientdet_adapter.app.runs import write_predictions
from efficientdet_adapter.base.devices import resolve_device
from efficientdet_adapter.base.errors import ImageLoadError
from efficientdet_adapter.base.terminal import printable
from efficientdet_adapter.inference.image_files import DEFAULT_MAX_PIXELS, image_files, tile_count_warning
from efficientdet_adapter.inference.video import VIDEO_EXTENSIONS
from efficientdet_adapter.records.images import check_pixels


def cmd_predict(args) -> int:
    from efficientdet_adapter.inference.prediction import predict_files  # noqa: PLC0415  (torch: on use)
    from efficientdet_adapter.checkpoints.load import load_for_inference  # noqa: PLC0415
    from efficientdet_adapter.inference.video import is_video_name, predict_video, video_outputs  # noqa: PLC0415

    checkpoint = checkpoint_arg(args.checkpoint)
    args.device = resolve_device(args.device)
    out, inputs = Path(args.out), [Path(i) for i in args.images]
    videos = [i for i in inputs if i.is_file() and is_video_name(i)]
    # an output folder inside an input folder: its files (an earlier run's) are not inputs
    below = out.exists() and any(i.is_dir() and inside(out, i) and not same(out, i)
                                 for i in inputs)
    check_output_folder(out, inputs=inputs, create=False)
    images = [str(i) for i in inputs if i not in videos]
    files = image_files(images, skip=out if below else None) if images else []
    # refused or warned about before the model is loaded or anything is written
    check_pixels(files, args.max_pixels, option="--max-pixels")
    warning = tile_count_warning(files, args.tile, args.overlap, args.max_tiles,
                                 option="--max-tiles", tile_option="--tile")
    if warning:
        print(f"{PROG} predict: warning: {warning}", file=sys.stderr)
    out = check_output_folder(out, inputs=[*inputs, *files, checkpoint])
    loaded = load_for_inference(checkpoint, device=args.device)
    model, class_map, category_ids = loaded.model, loaded.class_map, loaded.category_ids
    preds, bad = [], {}
    if files:
        done = predict_files(model, files, args.threshold, batch_size=args.batch_size,
                             device=args.device, class_map=class_map, max_pixels=None,
                             tile=args.tile, overlap=args.overlap, max_tiles=args.max_tiles)
        preds, bad = done.predictions, done.skipped
    for why in bad.values():
        print(f"{PROG} predict: skipped {printable(why)}", file=sys.stderr)
    if files and not preds:
        raise ImageLoadError(f"none of the {len(files)} images could be read (listed above); "
                             "nothing written")
    if preds:
        also = [name for v in videos for name in video_outputs(v, not args.no_images)]
        results = write_predictions(preds, out, category_ids, min_score=args.threshold,
                                    annotated=not args.no_images, save_txt=args.save_txt,
                                    save_conf=args.save_conf, also_written=also)
        kept = sum(len(p) for p in preds)
        say(f"{kept} detections (score >= {args.threshold}) in {len(preds)} images; wrote "
            f"{results}" + ("" if args.no_images else f" and {len(preds)} annotated images in "
                                                      f"{out}"))
    for video in videos:
        done = predict_video(model, video, out, detection_threshold=args.threshold,
                             batch_size=args.batch_size, device=args.device,
                             annotated=not args.no_images, save_txt=args.save_txt,
                             save_conf=args.save_conf, category_ids=category_ids,
                             class_map=class_map)
        say(f"{done.detections} detections (score >= {args.threshold}) in {done.frames} frames "
            f"of {video}; wrote {done.results}" + (f" and {done.video}" if done.video else ""))
    if bad:
        raise ImageLoadError(f"{len(bad)} of {len(files)} images could not be read and were "
                             f"skipped (listed above); the other {len(preds)} are predicted")
    return 0


def add_tile_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--tile", type=tile_value, default=None, metavar="H,W",
                   help="predict each image in overlapping H x W tiles (original pixels) and "
                        "merge them with NMS: finds small objects in large images (default: "
                        "the whole image at once)")
    p.add_argument("--max-tiles", type=number(int, low=1), default=None, metavar="N",
                   help="refuse an image that --tile cuts into more than N tiles, each a whole "
                        "prediction (default: efficientdet_adapter.inference.tiling.MAX_TILES)")
    p.add_argument("--overlap", type=overlap_value, default=0.25,
                   help="between tiles: a fraction of the tile (<1) or pixels, at most half a "
                        "tile (default: %(default)s)")


def add_command(sub) -> None:
    """Add ``predict`` to the subcommands."""
    p = sub.add_parser("predict", help="detect objects in images",
                       description="Detect objects in image files, folders and video files: "
                       "writes annotated copies (in each image's own format), predictions.json "
                       "(COCO results) and images.json to --out, a folder apart from the inputs; "
                       "for a video, an annotated <video>.mp4 and <video>.jsonl (one line of "
                       "results per frame). Unreadable images are listed and skipped (exit "
                       "status 2 after predicting the others).")
    p.add_argument("images", nargs="+",
                   help="image files or folders, or video files "
                        f"({', '.join(VIDEO_EXTENSIONS)})")
    p.add_argument("--checkpoint", required=True, help=CHECKPOINT_HELP)
    p.add_argument("--out", required=True, help="output folder (not an input folder)")
    p.add_argument("--threshold", type=number(float, low=0, high=1), default=0.5,
                   help="keep detections scoring at least this, 0..1 (default: %(default)s)")
    p.add_argument("--batch-size", type=number(int, low=1), default=8,
                   help="images per batch, at least 1 (default: %(default)s)")
    p.add_argument("--device", default="auto",
                   help="auto, cpu, cuda or cuda:N; auto = the GPU when there is one "
                        "(default: %(default)s)")
    p.add_argument("--no-images", action="store_true",
                   help="write only the JSON files (no annotated images or videos)")
    p.add_argument("--save-txt", action="store_true",
                   help="also write YOLO labels, one labels/<image>.txt per image (and "
                        "<video>_<frame>.txt per frame): class cx cy w h, normalized, class "
                        "0-based without the background")
    p.add_argument("--save-conf", action="store_true",
                   help="with --save-txt: add each detection's score to its line")
    p.add_argument("--max-pixels", type=number(int, low=1), default=DEFAULT_MAX_PIXELS,
                   metavar="N",
                   help="refuse images of more than N pixels (memory grows with them, about "
                        "30 bytes a pixel; default: %(default)s)")
    add_tile_args(p)
    p.set_defaults(func=cmd_predict)
