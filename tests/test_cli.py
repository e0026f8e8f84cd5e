"""The command line, run as a user runs it: real subprocesses on tiny generated data."""

from __future__ import annotations

import importlib.util
import json
import re
import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from efficientdet_adapter.app.demo import write_demo_dataset
from efficientdet_adapter.training.csvlog import read_metrics_csv
from cli_output import dependency_warnings
from lightning_for_tests import lightning_or_skip

COMMANDS = ["train", "eval", "predict", "export", "demo"]
TINY = ["--epochs", "1", "--img-size", "128", "--batch-size", "4", "--threads", "1"]
COCO_KEYS = ["AP (IoU=0.50:0.95) area=all", "AP (IoU=0.50) area=all",
             "AR (IoU=0.50:0.95) area=all maxDets=100"]


# `python -c` that runs the command with pytorch_lightning unimportable: an environment with
# only the `lightning` package
ONLY_LIGHTNING = ["-c", "import sys; sys.modules['pytorch_lightning'] = None; "
                        "from efficientdet_adapter.app.cli import main; sys.exit(main(sys.argv[1:]))"]

#: What a finished ``train`` or ``demo`` leaves in its folder (one epoch log, one picture set).
RUN_FILES = ("model.pt", "best.pt", "last.pt", "metrics.csv", "curves.png", "pr_curves.png",
             "confusion_matrix.png", "valid_predictions.png")


def run(*args: str, cwd: Path | None = None, timeout: int = 600,
        python: Sequence[str] = ("-m", "efficientdet_adapter")) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "EFFICIENTDET_ADAPTER_OFFLINE": "1"}
    repo = str(Path(__file__).resolve().parents[1])
    env["PYTHONPATH"] = repo + os.pathsep + env.get("PYTHONPATH", "")
    proc = subprocess.run([sys.executable, *python, *args], cwd=cwd,
                          env=env, capture_output=True, text=True, timeout=timeout)
    assert dependency_warnings(proc.stdout + proc.stderr) == [], proc.stderr[-2000:]
    return proc


def assert_user_error(proc: subprocess.CompletedProcess, pattern: str) -> None:
    import re

    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert "Traceback" not in proc.stderr
    assert re.search(pattern, lines[-1]), lines[-1]


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    return write_demo_dataset(tmp_path_factory.mktemp("data") / "shapes", num_images=20, seed=1)


@pytest.fixture(scope="module")
def trained(data, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("runs") / "shapes"
    proc = run("train", "--data", str(data), "--out", str(out), *TINY)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "COCOMetric on 4 valid images" in proc.stdout
    return out


@pytest.mark.parametrize("command", [None, *COMMANDS])
def test_help(command):
    proc = run(*([command] if command else []), "--help")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("usage: efficientdet-adapter")
    if command is None:
        assert all(c in proc.stdout for c in COMMANDS)
    if command in ("train", "demo"):
        assert "--engine {fastai,lightning}" in proc.stdout and "--pretrained-backbone" in proc.stdout


@pytest.mark.slow
def test_train_writes_the_run(trained):
    assert {p.name for p in trained.iterdir()} >= set(RUN_FILES)
    assert not {"metrics.json", "loss.png"} & {p.name for p in trained.iterdir()}  # one log
    [epoch] = read_metrics_csv(trained / "metrics.csv")
    assert epoch["epoch"] == 1 and np.isfinite(epoch["train_loss"]) and epoch["valid_loss"] > 0
    assert 0 <= epoch["AP (IoU=0.50) area=all"] <= 1
    final = torch.load(trained / "model.pt", weights_only=True)["extra"]["metrics"]
    assert set(COCO_KEYS) <= set(final["valid"])
    for png in ("curves.png", "pr_curves.png", "confusion_matrix.png", "valid_predictions.png"):
        with Image.open(trained / png) as im:
            assert im.format == "PNG" and im.width >= 300

    from efficientdet_adapter.checkpoint import load_model

    model, class_map, config = load_model(trained / "model.pt")
    assert class_map.foreground == ["circle", "square", "star", "triangle"]
    assert config.img_size == (128, 128) and config.model_name == "tf_efficientdet_lite0"


@pytest.mark.slow
def test_predict_writes_images_and_coco_results(trained, data, tmp_path):
    images = sorted((data / "test").glob("*.jpg")) + sorted((data / "valid").glob("*.jpg"))[:1]
    out = tmp_path / "preds"
    proc = run("predict", str(data / "test"), str(images[-1]), "--checkpoint",
               str(trained / "model.pt"), "--out", str(out), "--threshold", "0.0")
    assert proc.returncode == 0, proc.stderr[-3000:]
    index = json.loads((out / "images.json").read_text())
    assert [Path(i["file_name"]).name for i in index] == [p.name for p in images]
    results = json.loads((out / "predictions.json").read_text())
    assert results and {r["image_id"] for r in results} <= {i["id"] for i in index}
    sizes = {i["id"]: (i["width"], i["height"]) for i in index}
    for r in results:
        x, y, w, h = r["bbox"]
        width, height = sizes[r["image_id"]]
        assert 0 <= x <= x + w <= width + 1e-3 and 0 <= y <= y + h <= height + 1e-3
        assert 1 <= r["category_id"] <= 4 and 0 <= r["score"] <= 1
    for image in images:  # annotated copies keep the original size and format (JPEG)
        with Image.open(image) as src, Image.open(out / image.name) as drawn:
            assert drawn.size == src.size and drawn.format == src.format == "JPEG"


@pytest.mark.slow
def test_eval_prints_and_writes_coco_metric(trained, data, tmp_path):
    out = tmp_path / "metrics.json"
    proc = run("eval", "--data", str(data), "--checkpoint", str(trained / "model.pt"),
               "--split", "test", "--out", str(out))
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "COCOMetric on 2 test images" in proc.stdout
    assert "it/s]" not in proc.stderr  # piped: no progress-bar frames (text mode hides "\r")
    metrics = json.loads(out.read_text())
    assert set(COCO_KEYS) <= set(metrics) and all(-1 <= v <= 1 for v in metrics.values())


@pytest.mark.slow
def test_export_onnx_then_predict_and_eval_it_like_the_checkpoint(trained, data, tmp_path):
    """The .onnx runs alone (uint8 in, detections out) and through predict and eval, where it
    gives the checkpoint's results: boxes within 0.01 px, scores within 1e-4, the same classes
    and category ids; COCO AP within 1e-4."""
    ort = pytest.importorskip("onnxruntime")
    out = tmp_path / "model.onnx"
    proc = run("export", "--checkpoint", str(trained / "model.pt"), "--format", "onnx",
               "--out", str(out))
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.startswith(f"wrote {out}: input 'images' uint8 [B, H, W, 3] RGB")
    sess = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    names = json.loads(sess.get_modelmeta().custom_metadata_map["names"])
    assert names == ["circle", "square", "star", "triangle"]
    boxes, scores, classes, count = sess.run(None, {"images": np.zeros((2, 128, 128, 3), np.uint8)})
    assert boxes.shape == (2, 100, 4) and scores.shape == classes.shape == (2, 100)
    assert count.shape == (2,) and set(np.unique(classes)) <= {-1, 0, 1, 2, 3}

    results = {}
    for model in ("model.pt", str(out)):
        preds = tmp_path / f"preds_{Path(model).suffix[1:]}"
        proc = run("predict", str(data / "test"), "--checkpoint", str(trained / model),
                   "--out", str(preds), "--threshold", "0.05", "--no-images", "--device", "cpu")
        assert proc.returncode == 0, proc.stderr[-3000:]
        results[model] = json.loads((preds / "predictions.json").read_text())
        metrics = tmp_path / f"metrics_{Path(model).suffix[1:]}.json"
        proc = run("eval", "--data", str(data), "--checkpoint", str(trained / model),
                   "--split", "valid", "--out", str(metrics), "--device", "cpu")
        assert proc.returncode == 0, proc.stderr[-3000:]
        results[model + " eval"] = json.loads(metrics.read_text())
    ref, got = results["model.pt"], results[str(out)]
    assert len(got) == len(ref) > 0

    def groups(rows):  # (image, category) -> [[x, y, w, h, score], ...]
        out: dict = {}
        for r in rows:
            out.setdefault((r["image_id"], r["category_id"]), []).append([*r["bbox"], r["score"]])
        return {k: np.array(v) for k, v in out.items()}

    got_groups, ref_groups = groups(got), groups(ref)
    assert {k: len(v) for k, v in got_groups.items()} == {k: len(v) for k, v in ref_groups.items()}
    for k, want in ref_groups.items():  # each detection against its nearest twin
        diff = np.abs(got_groups[k][None, :, :] - want[:, None, :])  # [ref, got, 5]
        nearest = diff[..., :4].max(axis=2).argmin(axis=1)
        twins = diff[np.arange(len(want)), nearest]
        assert twins[:, :4].max() < 0.01 and twins[:, 4].max() < 1e-4, k
    ref_ap, got_ap = results["model.pt eval"], results[str(out) + " eval"]
    assert set(ref_ap) == set(got_ap) and set(COCO_KEYS) <= set(ref_ap)
    for name in ref_ap:
        assert got_ap[name] == pytest.approx(ref_ap[name], abs=1e-4), name


@pytest.mark.slow
def test_export_torchscript_of_a_lite_model(trained, tmp_path):
    out = tmp_path / "model.ts"
    proc = run("export", "--checkpoint", str(trained / "model.pt"), "--format", "torchscript",
               "--out", str(out))
    assert proc.returncode == 0, proc.stderr[-3000:]
    class_out, box_out = torch.jit.load(str(out))(torch.zeros(1, 3, 128, 128))
    assert [tuple(c.shape) for c in class_out][:2] == [(1, 36, 16, 16), (1, 36, 8, 8)]  # 9 x 4
    assert len(box_out) == 5 and box_out[0].shape == (1, 36, 16, 16)  # 9 anchors x 4


@pytest.mark.slow
def test_export_torch_program(trained, tmp_path):
    import torch

    proc = run("export", "--checkpoint", str(trained / "model.pt"), "--format", "torch-export")
    assert proc.returncode == 0, proc.stderr[-3000:]
    path = trained / "model.pt2"  # beside the checkpoint by default
    assert proc.stdout.startswith(f"wrote {path}, a torch.export program: boxes, scores, classes")
    boxes, scores, classes = torch.export.load(str(path)).module()(torch.zeros(2, 3, 128, 128))
    assert boxes.shape[:2] == scores.shape == classes.shape and boxes.shape[0] == 2
    path.unlink()


@pytest.mark.parametrize(
    "args,pattern",
    [
        (["train", "--data", "no/such/folder"], r"train: error: --data no/such/folder: no such"),
        (["predict", "missing.jpg", "--checkpoint", "x.pt", "--out", "o"],
         r"predict: error: --checkpoint x\.pt: no such file; give the path of a model\.pt"),
        (["export", "--checkpoint", "nope.pt"], r"export: error: --checkpoint nope\.pt: no such file"),
        (["train", "--data", ".", "--batch-size", "0"],
         r"train: error: argument --batch-size: 0 must be at least 1 \(see efficientdet-adapter "
         r"train --help\)"),
        (["train"], r"the following arguments are required: --data"),
    ],
)
def test_user_errors_are_one_line(args, pattern, tmp_path):
    assert_user_error(run(*args, cwd=tmp_path), pattern)


def test_unreadable_checkpoint_and_empty_folder(tmp_path):
    (tmp_path / "bad.pt").write_bytes(b"junk")
    (tmp_path / "empty").mkdir()
    Image.new("RGB", (32, 32)).save(tmp_path / "a.png")
    proc = run("predict", "a.png", "--checkpoint", "bad.pt", "--out", "o", cwd=tmp_path)
    assert_user_error(proc, r"bad\.pt: not a readable PyTorch checkpoint")
    proc = run("predict", "empty", "--checkpoint", "bad.pt", "--out", "o", cwd=tmp_path)
    assert_user_error(proc, r"empty: no images")


@pytest.mark.slow
@pytest.mark.parametrize("python", [("-m", "efficientdet_adapter"), ONLY_LIGHTNING],
                         ids=["installed packages", "only lightning"])
def test_train_with_lightning(data, tmp_path, python):
    lightning_or_skip()
    if python == ONLY_LIGHTNING and importlib.util.find_spec("lightning") is None:
        pytest.skip("the `lightning` package is not installed")
    out = tmp_path / "light"
    proc = run("train", "--data", str(data), "--out", str(out), "--engine", "lightning",
               "--pretrained-backbone", "none", *TINY, python=python)
    assert proc.returncode == 0, proc.stderr[-3000:]
    [epoch] = read_metrics_csv(out / "metrics.csv")
    assert epoch["epoch"] == 1 and epoch["train_loss"] > 0 and epoch["valid_loss"] > 0
    assert 0 <= epoch["AP (IoU=0.50) area=all"] <= 1
    assert {p.name for p in out.iterdir()} >= set(RUN_FILES)
    assert (out / "model.pt").stat().st_size > 1_000_000


@pytest.mark.slow
def test_demo_end_to_end(tmp_path):
    out = tmp_path / "demo"
    proc = run("demo", "--out", str(out), "--num-images", "20", *TINY)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "COCOMetric on 2 held-out demo images" in proc.stdout
    assert "AP (IoU=0.50) area=all" in proc.stdout
    final = torch.load(out / "model.pt", weights_only=True)["extra"]["metrics"]
    assert set(COCO_KEYS) <= set(final["test"]) and final["train_seconds"] > 0
    assert {p.name for p in out.iterdir()} >= set(RUN_FILES)  # the same files as train
    assert [r["epoch"] for r in read_metrics_csv(out / "metrics.csv")] == [1]
    preds = out / "predictions"
    assert len(list(preds.glob("*.jpg"))) == 2 and (preds / "predictions.json").is_file()
    assert (out / "data" / "train" / "_annotations.coco.json").is_file()


# -- one error mechanism: every bad argument is one line on stderr and exit status 2 -----------
@pytest.fixture(scope="module")
def tiny_ckpt(tmp_path_factory) -> Path:
    """An untrained lite0 at 128 px saved as a checkpoint (in-process: fast)."""
    from efficientdet_adapter.checkpoint import save_checkpoint
    from efficientdet_adapter.records.class_map import ClassMap
    from efficientdet_adapter.model.model import model

    path = tmp_path_factory.mktemp("ckpt") / "model.pt"
    cm = ClassMap(["a", "b"])
    save_checkpoint(model(model_name="tf_efficientdet_lite0", num_classes=len(cm), img_size=128,
                          pretrained_backbone=False), path, cm)
    return path


def in_process(capsys, *args: str) -> tuple[int, str, str]:
    from efficientdet_adapter.app.cli import main

    rc = main(list(args))
    captured = capsys.readouterr()
    return rc, captured.out, captured.err


def write_images(folder: Path, names=("a.png", "b.jpg")) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    paths = []
    for name in names:
        Image.fromarray(rng.integers(0, 255, (64, 96, 3), dtype=np.uint8)).save(folder / name)
        paths.append(folder / name)
    return paths


BAD_ARGS = [
    # (command line, pattern of the one line on stderr); {ckpt} {imgs} {data} {file} {dir} are
    # filled in by the test
    ("train --data {data} --batch-size 0", r"argument --batch-size: 0 must be at least 1"),
    ("train --data {data} --batch-size -2", r"argument --batch-size: -2 must be at least 1"),
    ("train --data {data} --num-workers -1", r"argument --num-workers: -1 must be at least 0"),
    ("train --data {data} --epochs 0", r"argument --epochs: 0 must be at least 1"),
    ("train --data {data} --epochs -3", r"argument --epochs: -3 must be at least 1"),
    ("train --data {data} --lr -0.1", r"argument --lr: -0.1 must be greater than 0"),
    ("train --data {data} --lr nan", r"argument --lr: 'nan' is not a finite number"),
    ("train --data {data} --lr 1e999", r"argument --lr: '1e999' is not a finite number"),
    ("train --data {data} --img-size 100", r"--img-size: 100 is not a multiple of 128.*use 128"),
    ("train --data {data} --img-size 8192", r"--img-size: 8192 is larger than 4096"),
    ("train --data {data} --freeze-epochs -1", r"--freeze-epochs: -1 must be at least 0"),
    ("train --data {data} --threads 0", r"--threads: 0 must be at least 1 \(or auto\)"),
    ("train --data {data} --threads many", r"--threads: 'many' is not an integer \(or auto\)"),
    ("train --data {data} --batch-size two", r"--batch-size: 'two' is not an integer"),
    ("train --data {data} --engine keras", r"--engine: invalid choice: 'keras'"),
    ("train --data {data} --model nope", r"--model nope: not an effdet model name"),
    ("train --data {data} --pretrained-backbone missing.pth",
     r"--pretrained-backbone missing\.pth: neither .* nor an existing weights file"),
    ("train --data no/such", r"--data no/such: no such folder or zip file"),
    ("train --data {data} --out {file}", r"--out .*: is an existing file, not a folder"),
    ("train --data {data} --out /proc/edet_out", r"--out /proc/edet_out: cannot write there"),
    ("train --data {data} --out {data}/runs", r"--out .*: lies inside --data"),
    ("train --data {data} --bogus 1", r"unrecognized arguments: --bogus 1"),
    ("train", r"the following arguments are required: --data"),
    ("eval --data {data} --checkpoint missing.pt", r"--checkpoint missing\.pt: no such file"),
    ("eval --data no/such --checkpoint {ckpt}", r"--data no/such: no such folder"),
    ("eval --data {data} --checkpoint {ckpt} --out {dir}", r"--out .*: is an existing folder"),
    ("eval --data {data} --checkpoint {ckpt} --out {ckpt}", r"--out .*: is an input of this"),
    ("eval --data {data} --checkpoint {ckpt} --split dev", r"--split: invalid choice: 'dev'"),
    ("predict {imgs} --checkpoint {ckpt} --out o --threshold 2",
     r"argument --threshold: 2 must be at most 1"),
    ("predict {imgs} --checkpoint {ckpt} --out o --threshold nan",
     r"argument --threshold: 'nan' is not a finite number"),
    ("predict {imgs} --checkpoint {ckpt} --out o --threshold -0.5",
     r"argument --threshold: -0.5 must be at least 0"),
    ("predict {imgs} --checkpoint {ckpt} --out o --batch-size 0", r"--batch-size: 0 must be at"),
    ("predict {imgs} --checkpoint {ckpt} --out o --device cuda",
     r"--device cuda: PyTorch sees no CUDA GPU on this machine; use --device cpu"),
    ("predict {imgs} --checkpoint {ckpt} --out o --device tpu", r"--device tpu: "),
    ("predict {imgs} --checkpoint {ckpt} --out {imgs}", r"--out .*: is an input folder"),
    ("predict {imgs}/a.png --checkpoint {ckpt} --out {imgs}",
     r"--out .*: is the folder of the input .*a\.png"),
    ("predict {imgs} --checkpoint {ckpt} --out {file}", r"--out .*: is an existing file"),
    ("predict {imgs} --checkpoint missing.pt --out o", r"--checkpoint missing\.pt: no such file"),
    ("predict no_such.jpg --checkpoint {ckpt} --out o", r"no_such\.jpg: no such image file"),
    ("export --checkpoint {ckpt} --img-size 100", r"argument --img-size: 100 is not a multiple"),
    ("export --checkpoint {ckpt} --opset 5", r"argument --opset: 5 must be at least 11"),
    ("export --checkpoint {ckpt} --opset 99", r"argument --opset: 99 must be at most 20"),
    ("export --checkpoint {ckpt} --out {dir}", r"--out .*: is an existing folder"),
    ("export --checkpoint {ckpt} --out {ckpt}", r"--out .*: is an input of this command"),
    ("export --checkpoint missing.pt", r"--checkpoint missing\.pt: no such file"),
    ("export --checkpoint {ckpt} --format tflite", r"--format: invalid choice: 'tflite'"),
    ("demo --num-images 0", r"argument --num-images: 0 must be at least 10"),
    ("demo --num-images 2", r"argument --num-images: 2 must be at least 10"),
    ("demo --epochs 0", r"argument --epochs: 0 must be at least 1"),
    ("demo --out {file}", r"--out .*: is an existing file, not a folder"),
    ("bogus", r"invalid choice: 'bogus'"),
    ("", r"the following arguments are required: COMMAND"),
]


@pytest.mark.parametrize("line,pattern", BAD_ARGS, ids=[c[0] or "(none)" for c in BAD_ARGS])
def test_bad_argument_is_one_line_and_exit_2(line, pattern, tiny_ckpt, tmp_path, capsys,
                                             monkeypatch):
    import re

    monkeypatch.chdir(tmp_path)
    data = tmp_path / "data"
    data.mkdir()
    imgs = tmp_path / "imgs"
    write_images(imgs)
    (tmp_path / "file.txt").write_text("mine")
    (tmp_path / "dir").mkdir()
    ckpt = tmp_path / "model.pt"
    ckpt.write_bytes(tiny_ckpt.read_bytes())
    args = line.format(data=data, imgs=imgs, ckpt=ckpt, file=tmp_path / "file.txt",
                       dir=tmp_path / "dir").split()
    rc, out, err = in_process(capsys, *args)
    assert rc == 2
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1, err
    assert lines[0].startswith("efficientdet-adapter"), lines[0]
    assert re.search(pattern, lines[0]), lines[0]
    assert (tmp_path / "file.txt").read_text() == "mine"  # nothing of the user's touched
    assert sorted(p.name for p in imgs.iterdir()) == ["a.png", "b.jpg"]
    assert not (tmp_path / "o").exists()  # no output written by a refused command


def test_only_the_library_error_family_is_turned_into_one_line(monkeypatch, capsys):
    """A bug (any other exception) keeps its traceback; an AdapterError becomes one line."""
    from efficientdet_adapter.app.cli import command_line as cli  # the module whose main runs the parser
    from efficientdet_adapter.base.errors import ParseError

    def boom(args):
        raise ParseError("x.json: broken; fix it\nmore detail")

    parser = cli.build_parser

    def patched():
        p = parser()
        p._subparsers._group_actions[0].choices["export"].set_defaults(func=boom)
        return p

    monkeypatch.setattr(cli, "build_parser", patched)
    assert cli.main(["export", "--checkpoint", "c.pt"]) == 2
    assert capsys.readouterr().err == "efficientdet-adapter export: error: x.json: broken; fix it\n"

    def bug(args):
        raise ZeroDivisionError("a bug")

    monkeypatch.setattr(cli, "build_parser", lambda: (lambda p: (
        p._subparsers._group_actions[0].choices["export"].set_defaults(func=bug), p)[1])(parser()))
    with pytest.raises(ZeroDivisionError):
        cli.main(["export", "--checkpoint", "c.pt"])


def test_usage_error_is_the_one_name_of_a_usage_mistake():
    import efficientdet_adapter.app.runs as runs
    from efficientdet_adapter.base.errors import AdapterError, UsageError

    assert issubclass(UsageError, AdapterError)
    assert not hasattr(runs, "UserError")  # the shim of a layout that never shipped is gone


# -- predict: never over an input, and a corrupt image does not stop the others ----------------
def test_predict_never_writes_over_an_input(tiny_ckpt, tmp_path, capsys):
    photos = tmp_path / "photos"
    paths = write_images(photos, ("cat.png", "dog.jpg"))
    before = {p.name: p.read_bytes() for p in paths}
    rc, _, err = in_process(capsys, "predict", str(photos), "--checkpoint", str(tiny_ckpt),
                            "--out", str(photos))
    assert rc == 2 and "is an input folder" in err
    rc, _, err = in_process(capsys, "predict", str(photos / "cat.png"), "--checkpoint",
                            str(tiny_ckpt), "--out", str(photos))
    assert rc == 2 and "is the folder of the input" in err
    assert {p.name: p.read_bytes() for p in photos.iterdir()} == before

    # an output folder inside the inputs works, and its images are not taken as inputs next time
    out = photos / "preds"
    for _ in range(2):
        rc, stdout, err = in_process(capsys, "predict", str(photos), "--checkpoint",
                                     str(tiny_ckpt), "--out", str(out), "--threshold", "0.9")
        assert rc == 0, err
        assert "in 2 images" in stdout
    assert sorted(p.name for p in out.iterdir()) == ["cat.png", "dog.jpg", "images.json",
                                                     "predictions.json"]
    assert {p.name: p.read_bytes() for p in paths} == before


def test_write_predictions_refuses_to_replace_an_input(tmp_path):
    from efficientdet_adapter.base.errors import UsageError
    from efficientdet_adapter.records.predictions import Prediction
    from efficientdet_adapter.app.runs import write_predictions

    src = write_images(tmp_path, ("cat.png",))[0]
    before = src.read_bytes()
    pred = Prediction(np.zeros((0, 4), np.float32), np.zeros(0, np.float32), np.zeros(0, int),
                      record_id=0, filepath=src, width=96, height=64)
    with pytest.raises(UsageError, match=r"would replace the input image .*cat\.png"):
        write_predictions([pred], tmp_path)
    assert src.read_bytes() == before and not (tmp_path / "images.json").exists()


def test_predict_skips_corrupt_images_lists_them_and_exits_2(tiny_ckpt, tmp_path, capsys):
    photos = tmp_path / "photos"
    write_images(photos, ("a.png", "b.jpg", "c.png"))
    (photos / "broken.jpg").write_bytes(b"not an image at all")
    good = (photos / "b.jpg").read_bytes()
    (photos / "truncated.jpg").write_bytes(good[: len(good) // 2])  # header fine, pixels not
    out = tmp_path / "out"
    rc, stdout, err = in_process(capsys, "predict", str(photos), "--checkpoint", str(tiny_ckpt),
                                 "--out", str(out), "--batch-size", "4", "--threshold", "0.9")
    assert rc == 2
    assert "in 3 images" in stdout
    lines = err.strip().splitlines()
    assert any("skipped" in ln and "broken.jpg" in ln for ln in lines), err
    assert any("skipped" in ln and "truncated.jpg" in ln for ln in lines), err
    assert re.search(r"error: 2 of 5 images could not be read .* the other 3 are predicted",
                     lines[-1]), lines[-1]
    index = json.loads((out / "images.json").read_text())
    assert [Path(i["file_name"]).name for i in index] == ["a.png", "b.jpg", "c.png"]
    assert [i["id"] for i in index] == [0, 1, 2]
    assert sorted(p.name for p in out.glob("*.*g")) == ["a.png", "b.jpg", "c.png"]
