"""Prediction on video files: every frame predicted, an annotated video and per-frame results.

[`predict_video`][efficientdet_adapter.inference.video.predict_video] reads a video with OpenCV
(``cv2.VideoCapture``), predicts its frames in
batches (any model ``predict`` takes: a PyTorch model or an ``OnnxModel``), and writes to the
output folder, for ``clip.mp4``:

- ``clip.mp4``: the frames with their kept boxes drawn, same size and frame rate, ``mp4v``
  codec (any source container: ``clip.avi`` gives ``clip.mp4``);
- ``clip.jsonl``: one JSON line per frame, ``{"frame": i, "time_s": t, "width": w,
  "height": h, "detections": [...]}``, each detection a row of ``predictions.json``
  (``image_id`` = the frame index, ``category_id``, ``bbox`` ``[x, y, w, h]`` in the frame's
  pixels, ``score``), the detections kept by the threshold;
- with ``save_txt``, ``labels/clip_<i>.txt``: the YOLO labels of frame ``i`` (as for images;
  [`prediction_files`][efficientdet_adapter.inference.files]).

Files are written atomically (a temporary file renamed when the video is done).

Example:
    >>> result = predict_video(model, "clip.mp4", Path("preds"), detection_threshold=0.4)
    ... # doctest: +SKIP
    >>> result.frames, result.video, result.results                           # doctest: +SKIP
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from efficientdet_adapter.base.atomic import atomic_open, atomic_save
from efficientdet_adapter.base.errors import ImageLoadError, SaveError
from efficientdet_adapter.inference.files import LABELS_DIR

if TYPE_CHECKING:
    from torch import nn

__all__ = ["VIDEO_EXTENSIONS", "VIDEO_CODEC", "VideoResult", "is_video_name", "video_outputs",
           "predict_video"]

#: File suffixes (lower case) ``predict`` reads as videos.
VIDEO_EXTENSIONS: tuple[str, ...] = (".mp4", ".avi", ".mov", ".mkv", ".m4v", ".mpg", ".mpeg",
                                     ".wmv", ".webm")
#: The FourCC of the annotated videos, in an ``.mp4`` container (OpenCV's pip wheels write it
#: without an external encoder).
VIDEO_CODEC = "mp4v"
#: The frame rate written when a video does not state its own.
DEFAULT_FPS = 30.0


@dataclasses.dataclass
class VideoResult:
    """What [`predict_video`][efficientdet_adapter.inference.video.predict_video] did: frames read, detections
    kept, the files written."""

    source: Path
    frames: int
    detections: int
    fps: float
    width: int
    height: int
    video: Path | None
    results: Path
    labels: list[Path]


def is_video_name(name: str | Path) -> bool:
    """Whether a file name has a video suffix (`VIDEO_EXTENSIONS`, any case).

    Example:
        >>> is_video_name("clip.MP4"), is_video_name("photo.jpg")
        (True, False)
    """
    return Path(name).suffix.lower() in VIDEO_EXTENSIONS


def video_outputs(source: str | Path, annotated: bool = True) -> list[str]:
    """The names [`predict_video`][efficientdet_adapter.inference.video.predict_video] writes in the output
    folder for ``source`` (its label
    files aside, in ``labels/``)."""
    stem = Path(source).stem
    return [f"{stem}.jsonl"] + ([f"{stem}.mp4"] if annotated else [])


def _frames(capture, batch_size: int) -> Iterator[list[np.ndarray]]:
    """The video's frames as RGB arrays, ``batch_size`` at a time."""
    import cv2  # noqa: PLC0415

    batch: list[np.ndarray] = []
    while True:
        ok, frame = capture.read()
        if not ok:
            break
        batch.append(cv2.cvtColor(frame, cv2.COLOR_BGR2RGB))
        if len(batch) == batch_size:
            yield batch
            batch = []
    if batch:
        yield batch


def predict_video(
    model: "nn.Module",
    path: str | Path,
    out_dir: str | Path,
    *,
    detection_threshold: float = 0.5,
    batch_size: int = 8,
    device: str | None = "auto",
    annotated: bool = True,
    save_txt: bool = False,
    save_conf: bool = False,
    category_ids: Mapping[int, int] | None = None,
    class_map=None,
) -> VideoResult:
    """Predict every frame of the video at ``path``; write the annotated video and the
    per-frame results to ``out_dir`` (see the module docstring).

    Args:
        model: any model ``efficientdet.predict`` takes (PyTorch, accelerated, or ONNX).
        path: the video file.
        out_dir: the output folder (created).
        detection_threshold: the score a detection needs to be drawn and written.
        batch_size: frames per batch.
        device: where a PyTorch model runs (see ``predict``).
        annotated: write the annotated video (``False``: the results alone).
        save_txt, save_conf: also write YOLO labels per frame (with the score).
        category_ids: ``{label id: dataset category id}`` for the results (default: label ids).
        class_map: the class names drawn (default: the model's, for an ONNX model).

    Returns:
        A [`VideoResult`][efficientdet_adapter.inference.video.VideoResult].

    Raises:
        ImageLoadError: OpenCV cannot read the video.
        SaveError: OpenCV cannot write the annotated video.
    """
    import cv2  # noqa: PLC0415

    from efficientdet_adapter.records.dataset import Dataset  # noqa: PLC0415
    from efficientdet_adapter.inference.prediction import inference_tfm, predict  # noqa: PLC0415
    from efficientdet_adapter.pictures.show import annotate  # noqa: PLC0415
    from efficientdet_adapter.parsers.writers import write_yolo_predictions  # noqa: PLC0415

    path, out_dir = Path(path), Path(out_dir)
    capture = cv2.VideoCapture(str(path))
    if not capture.isOpened():
        raise ImageLoadError(f"{path}: OpenCV cannot read this video (an unknown codec or a "
                             "damaged file?); convert it to .mp4 (H.264 or mp4v) and try again")
    fps = float(capture.get(cv2.CAP_PROP_FPS) or 0.0) or DEFAULT_FPS
    width = int(capture.get(cv2.CAP_PROP_FRAME_WIDTH))
    height = int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT))
    class_map = class_map if class_map is not None else getattr(model, "class_map", None)
    tfm = inference_tfm(model)
    stem = path.stem
    out_dir.mkdir(parents=True, exist_ok=True)
    jsonl_path = out_dir / f"{stem}.jsonl"
    video_path = out_dir / f"{stem}.mp4" if annotated else None
    counts = {"frames": 0, "detections": 0}
    labels: list[Path] = []

    def run(results, writer) -> None:
        for frames in _frames(capture, batch_size):
            ds = Dataset.from_images(frames, tfm, class_map=class_map)
            preds = predict(model, ds, detection_threshold=detection_threshold,
                            keep_images=annotated, batch_size=batch_size, device=device,
                            class_map=class_map)
            first = counts["frames"]
            for i, pred in enumerate(preds):
                index = first + i
                results.write(json.dumps(_frame_line(pred, index, fps, category_ids)) + "\n")
                counts["detections"] += int(pred.keep.sum())
                if writer is not None:
                    writer.write(cv2.cvtColor(annotate(pred), cv2.COLOR_RGB2BGR))
            if save_txt:
                named = [dataclasses.replace(p, img=None) for p in preds]
                labels.extend(write_yolo_predictions(
                    named, out_dir / LABELS_DIR, min_score=detection_threshold, conf=save_conf,
                    stems=[f"{stem}_{first + i}" for i in range(len(preds))]))
            counts["frames"] += len(preds)

    try:
        with atomic_open(jsonl_path, "w") as results:
            if video_path is None:
                run(results, None)
            else:
                atomic_save(video_path, lambda tmp: _write_video(tmp, fps, (width, height),
                                                                  lambda w: run(results, w)))
    finally:
        capture.release()
    if counts["frames"] == 0:
        jsonl_path.unlink(missing_ok=True)
        if video_path is not None:
            video_path.unlink(missing_ok=True)
        raise ImageLoadError(f"{path}: OpenCV read no frames from this video; check that it "
                             "plays, or convert it to .mp4")
    return VideoResult(path, counts["frames"], counts["detections"], fps, width, height,
                       video_path, jsonl_path, labels)


def _write_video(tmp: Path, fps: float, size: tuple[int, int], fill) -> None:
    """Write a video to ``tmp`` (which ends in ``.tmp``: OpenCV picks the container by the
    suffix, so it writes ``tmp.mp4`` and renames it) with ``fill(writer)``."""
    import cv2  # noqa: PLC0415

    part = tmp.with_name(tmp.name + ".mp4")
    writer = cv2.VideoWriter(str(part), cv2.VideoWriter_fourcc(*VIDEO_CODEC), fps, size)
    try:
        if not writer.isOpened():
            raise SaveError(f"{tmp.parent}: OpenCV cannot write an {VIDEO_CODEC} .mp4 video here "
                            "(its video writer is missing from this OpenCV build?); use --no-"
                            "images to write the per-frame results alone")
        fill(writer)
        writer.release()
        os.replace(part, tmp)  # noqa: TID251
    finally:
        writer.release()
        part.unlink(missing_ok=True)


def _frame_line(pred, index: int, fps: float, category_ids: Mapping[int, int] | None) -> dict:
    """One frame's JSON line: its kept detections as ``predictions.json`` rows (``image_id`` is
    the frame index)."""
    from efficientdet_adapter.parsers.writers import coco_results  # noqa: PLC0415

    return {"frame": index, "time_s": round(index / fps, 4), "width": pred.width,
            "height": pred.height, "detections": coco_results(pred, index, category_ids)}
