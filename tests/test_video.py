"""Prediction outputs: videos in (an annotated video and per-frame results out), YOLO txt
labels, and annotated images in their source's format; on real files written in tmp_path."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from PIL import Image

from efficientdet_adapter.records.class_map import ClassMap
from efficientdet_adapter.records.dataset import Dataset
from efficientdet_adapter.inference.prediction import inference_tfm, predict
from efficientdet_adapter.inference.video import predict_video

W, H, FRAMES, FPS = 160, 128, 6, 12.0
NAMES = ["a", "b"]


def tiny_model():
    """An untrained lite0 at 128 px whose class head gives scores above 0.5 (many boxes)."""
    from efficientdet_adapter.model.model import model as build_model

    torch.manual_seed(0)
    model = build_model(model_name="tf_efficientdet_lite0", num_classes=3, img_size=128)
    with torch.no_grad():
        for p in model.model.class_net.predict.parameters():
            p.normal_(0.0, 0.3)
    return model.eval()


def write_video(path: Path, frames: int = FRAMES) -> Path:
    """A real mp4v video: a bright square moving over a dark gradient, ``W`` x ``H``."""
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), FPS, (W, H))
    assert writer.isOpened()
    for i in range(frames):
        frame = np.tile(np.linspace(20, 90, W, dtype=np.uint8)[None, :, None], (H, 1, 3))
        frame[30:80, 10 + 15 * i:60 + 15 * i] = (40, 200, 240)
        writer.write(frame)
    writer.release()
    return path


def read_frames(path: Path) -> tuple[list[np.ndarray], float, tuple[int, int]]:
    capture = cv2.VideoCapture(str(path))
    fps = capture.get(cv2.CAP_PROP_FPS)
    size = (int(capture.get(cv2.CAP_PROP_FRAME_WIDTH)), int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT)))
    frames = []
    while True:
        ok, frame = capture.read()
        if not ok:
            break
        frames.append(cv2.cvtColor(frame, cv2.COLOR_BGR2RGB))
    capture.release()
    return frames, fps, size


def yolo_rows(detections: list[dict], width: int, height: int, conf: bool) -> list[list[float]]:
    """The YOLO label rows of predictions.json-style detections (label id = category id)."""
    rows = []
    for d in detections:
        x, y, w, h = d["bbox"]
        row = [d["category_id"] - 1, (x + w / 2) / width, (y + h / 2) / height, w / width,
               h / height]
        rows.append(row + ([d["score"]] if conf else []))
    return rows


def read_txt(path: Path) -> list[list[float]]:
    return [[float(v) for v in line.split()] for line in path.read_text().splitlines()]


def test_predict_video_writes_the_annotated_video_frame_results_and_labels(tmp_path):
    model = tiny_model()
    source = write_video(tmp_path / "clip.avi")  # any container in; mp4 out
    out = tmp_path / "out"
    result = predict_video(model, source, out, detection_threshold=0.5, batch_size=4,
                           device="cpu", save_txt=True, save_conf=True,
                           class_map=ClassMap(NAMES))
    assert (result.frames, result.width, result.height, result.fps) == (FRAMES, W, H, FPS)
    assert result.video == out / "clip.mp4" and result.results == out / "clip.jsonl"
    assert sorted(p.name for p in out.iterdir()) == ["clip.jsonl", "clip.mp4", "labels"]

    frames, fps, size = read_frames(out / "clip.mp4")  # the annotated video
    assert len(frames) == FRAMES and size == (W, H) and fps == pytest.approx(FPS)
    sources, _, _ = read_frames(source)
    assert all(np.abs(a.astype(int) - b).mean() > 1 for a, b in zip(frames, sources))  # drawn

    lines = [json.loads(line) for line in (out / "clip.jsonl").read_text().splitlines()]
    assert [line["frame"] for line in lines] == list(range(FRAMES))
    assert [line["time_s"] for line in lines] == pytest.approx([i / FPS for i in range(FRAMES)],
                                                              abs=1e-4)  # to 0.1 ms
    assert all((line["width"], line["height"]) == (W, H) for line in lines)
    # the same detections as predict on the decoded frames
    ref = predict(model, Dataset.from_images(sources, inference_tfm(model)),
                  detection_threshold=0.5, device="cpu")
    assert [len(line["detections"]) for line in lines] == [int(p.keep.sum()) for p in ref]
    assert result.detections == sum(len(line["detections"]) for line in lines) > 0
    for line, pred in zip(lines, ref):
        got = np.array([d["bbox"] for d in line["detections"]])
        want = pred.kept_boxes.copy()
        want[:, 2:] -= want[:, :2]
        np.testing.assert_allclose(got, want, atol=1e-3)
        assert {d["image_id"] for d in line["detections"]} == {line["frame"]}

    labels = sorted((out / "labels").iterdir(), key=lambda p: int(p.stem.split("_")[1]))
    assert [p.name for p in labels] == [f"clip_{i}.txt" for i in range(FRAMES)]
    for path, line in zip(labels, lines):
        np.testing.assert_allclose(read_txt(path), yolo_rows(line["detections"], W, H, True),
                                   atol=1e-4)


def test_predict_video_refuses_an_unreadable_video(tmp_path):
    from efficientdet_adapter.base.errors import ImageLoadError

    bad = tmp_path / "broken.mp4"
    bad.write_bytes(b"not a video")
    with pytest.raises(ImageLoadError, match=r"broken\.mp4: OpenCV (cannot read this video|read "
                                             r"no frames).*convert it to \.mp4"):
        predict_video(tiny_model(), bad, tmp_path / "out", device="cpu")
    assert not (tmp_path / "out" / "broken.jsonl").exists()


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory) -> Path:
    from efficientdet_adapter.checkpoint import save_checkpoint

    path = tmp_path_factory.mktemp("ckpt") / "model.pt"
    save_checkpoint(tiny_model(), path, ClassMap(NAMES))
    return path


def test_cli_predict_images_and_a_video_with_save_txt(checkpoint, tmp_path):
    """One run: a JPEG, a PNG and a video in; JPEG, PNG and mp4 out, YOLO labels for every image
    and frame that match predictions.json and the frame results."""
    inputs = tmp_path / "in"
    inputs.mkdir()
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 255, (120, 200, 3), np.uint8)).save(inputs / "a.jpg")
    Image.fromarray(rng.integers(0, 255, (90, 140, 3), np.uint8)).save(inputs / "b.png")
    video = write_video(tmp_path / "clip.mp4", frames=5)
    out = tmp_path / "out"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "EFFICIENTDET_ADAPTER_OFFLINE": "1",
           "PYTHONPATH": str(Path(__file__).resolve().parents[1]) + os.pathsep
           + os.environ.get("PYTHONPATH", "")}
    proc = subprocess.run([sys.executable, "-m", "efficientdet_adapter", "predict", str(inputs),
                           str(video), "--checkpoint", str(checkpoint), "--out", str(out),
                           "--save-txt", "--device", "cpu"],
                          env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "in 2 images" in proc.stdout and "in 5 frames of" in proc.stdout
    assert sorted(p.name for p in out.iterdir()) == ["a.jpg", "b.png", "clip.jsonl", "clip.mp4",
                                                     "images.json", "labels",
                                                     "predictions.json"]
    with Image.open(out / "a.jpg") as a, Image.open(out / "b.png") as b:
        assert (a.format, a.size, b.format, b.size) == ("JPEG", (200, 120), "PNG", (140, 90))
    frames, _, size = read_frames(out / "clip.mp4")
    assert len(frames) == 5 and size == (W, H)

    index = {i["id"]: i for i in json.loads((out / "images.json").read_text())}
    results = json.loads((out / "predictions.json").read_text())
    for image_id, image in index.items():
        stem = Path(image["file_name"]).stem
        rows = yolo_rows([r for r in results if r["image_id"] == image_id], image["width"],
                         image["height"], conf=False)  # no --save-conf: no score
        got = read_txt(out / "labels" / f"{stem}.txt")
        assert len(got) == len(rows) > 0 and all(len(r) == 5 for r in got)
        np.testing.assert_allclose(sorted(got), sorted(rows), atol=1e-4)
    lines = [json.loads(line) for line in (out / "clip.jsonl").read_text().splitlines()]
    assert len(lines) == 5
    for line in lines:
        got = read_txt(out / "labels" / f"clip_{line['frame']}.txt")
        np.testing.assert_allclose(sorted(got), sorted(yolo_rows(line["detections"], W, H,
                                                                 False)), atol=1e-4)
