"""Ultralytics' dataset file: ``--data data.yaml`` (parsers/yolo_data.py)."""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

import pytest
from PIL import Image

from efficientdet_adapter.base.errors import ParseError
from efficientdet_adapter.parsers import RoboflowParser, YOLODataParser
from efficientdet_adapter.parsers.yolo_data import dataset_parser
from efficientdet_adapter.app.runs import load_splits

POTHOLE = Path(__file__).resolve().parents[3] / "shared" / "data" / "real-exports" / \
    "pothole_yolov5" / "data.yaml"


def ultralytics_tree(root: Path) -> Path:
    """coco8's layout: images/{train,val} and labels/{train,val}, 2 + 1 images of 64x32."""
    boxes = {"train": ["0 0.5 0.5 0.5 0.5\n", "1 0.25 0.25 0.5 0.5\n0 0.5 0.5 1 1\n"],
             "val": ["1 0.5 0.5 0.25 0.5\n"]}
    for split, labels in boxes.items():
        (root / "images" / split).mkdir(parents=True)
        (root / "labels" / split).mkdir(parents=True)
        for i, text in enumerate(labels):
            Image.new("RGB", (64, 32)).save(root / "images" / split / f"{split}{i}.jpg")
            (root / "labels" / split / f"{split}{i}.txt").write_text(text)
    return root


@pytest.mark.parametrize("names", ["{0: cat, 1: dog}", "[cat, dog]"])
def test_ultralytics_data_yaml_reads_its_splits_and_names(tmp_path, names):
    root = ultralytics_tree(tmp_path / "coco2")
    yaml_file = tmp_path / "cfg" / "pets.yaml"
    yaml_file.parent.mkdir()
    yaml_file.write_text(f"path: ../coco2\ntrain: images/train\nval: images/val\ntest:\n"
                         f"names: {names}\n")
    parser = dataset_parser(yaml_file)
    assert isinstance(parser, YOLODataParser)
    splits = parser.parse_splits()
    assert list(splits) == ["train", "valid"] and parser.class_map.foreground == ["cat", "dog"]
    assert [len(splits["train"]), len(splits["valid"])] == [2, 1]
    second = splits["train"][1]
    assert second.labels == ["dog", "cat"]
    assert [round(v, 3) for v in second.bboxes[0].xyxy] == [0.0, 0.0, 32.0, 16.0]
    assert splits["valid"][0].record_id == 2  # ids over the whole file, train first
    assert parser.split_dirs["valid"] == (root / "images" / "val", root / "labels" / "val")


def test_missing_listed_paths_fall_back_beside_the_yaml_in_one_line(tmp_path, caplog):
    from efficientdet_adapter.app.demo import write_demo_dataset

    root = write_demo_dataset(tmp_path / "shapes", num_images=10, seed=1, format="yolo")
    (root / "data.yaml").write_text("train: /mnt/data/train/images\nval: /mnt/data/valid/images"
                                    "\nnc: 4\nnames: [circle, square, star, triangle]\n")
    with caplog.at_level(logging.WARNING):
        train, valid, test, class_map, parser = load_splits(root / "data.yaml")
    lines = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(lines) == 1
    assert lines[0] == (f"{root / 'data.yaml'}: the folders it lists do not exist here; read "
                        "beside it instead: train /mnt/data/train/images -> train/images; "
                        "val /mnt/data/valid/images -> valid/images")
    export = RoboflowParser(root).parse_splits()  # the same export read as a folder
    assert [r.filepath for r in train] == [r.filepath for r in export["train"]]
    assert [r.labels for r in valid] == [r.labels for r in export["valid"]]
    assert test == [] and class_map.foreground == ["circle", "square", "star", "triangle"]


@pytest.mark.parametrize("text,message", [
    ("val: a\nnames: [x]\n", r"no 'train' entry"),
    ("train: [a, b]\nnames: [x]\n", r"train lists 2 folders; one folder per split"),
    ("train: train.txt\nnames: [x]\n", r"train: train.txt is a list of image files"),
    ("train: nowhere/images\nnames: [x]\n", r"train: .*nowhere/images is not a folder, nor is"),
    ("train: images/train\n", r"no 'names' entry"),
    ("train: images/train\nnames: {0: a, 2: b}\n", r"'names' keys must be the class indices"),
])
def test_bad_data_yaml_is_named(tmp_path, text, message):
    ultralytics_tree(tmp_path)
    (tmp_path / "data.yaml").write_text(text)
    with pytest.raises(ParseError, match=message):
        YOLODataParser(tmp_path / "data.yaml").parse_splits()


def test_data_yaml_refuses_another_format(tmp_path):
    ultralytics_tree(tmp_path)
    (tmp_path / "data.yaml").write_text("train: images/train\nnames: [a, b]\n")
    with pytest.raises(ParseError, match=r"data.yaml: a YOLO data.yaml, but format='coco'"):
        dataset_parser(tmp_path / "data.yaml", "coco")


@pytest.mark.skipif(not POTHOLE.is_file(), reason=f"shared pothole export not at {POTHOLE}")
def test_the_shared_pothole_export_reads_through_its_data_yaml(tmp_path, caplog):
    """Its data.yaml holds the owner's /mnt/data paths: read beside the file instead."""
    with caplog.at_level(logging.WARNING):
        parser = YOLODataParser(POTHOLE)
    assert "/mnt/data/train/images -> train/images" in caplog.text
    assert parser.split_names == ["train", "valid"]  # the yaml lists no test split
    assert parser.names == ["pothole"]
    assert [len(list(p.iterdir())) for p in parser.split_folders.values()] == [465, 133]


def test_the_command_line_takes_a_data_yaml(tmp_path):
    """`--data data.yaml` was read as a zip ("not a readable zip file")."""
    from test_cli import run

    ultralytics_tree(tmp_path / "coco2")
    (tmp_path / "pets.yaml").write_text("path: coco2\ntrain: images/train\nval: images/val\n"
                                        "names: [cat, dog]\n")
    proc = run("check", "--data", str(tmp_path / "pets.yaml"), "--img-size", "128")
    assert proc.returncode == 0, proc.stderr[-2000:]
    rows = [line.split()[:4] for line in proc.stdout.splitlines()]
    assert ["train", "2", "0", "3"] in rows and ["valid", "1", "0", "1"] in rows, proc.stdout


def test_train_and_val_take_a_roboflow_data_yaml_without_a_warning(tmp_path):
    """Roboflow's data.yaml lists ``../train/images`` (read as ``train/images``, as Ultralytics
    reads it): train records the yaml in args.yaml, val scores the same test split."""
    import json

    import yaml

    from efficientdet_adapter.app.demo import write_demo_dataset
    from test_cli import TINY, run

    root = write_demo_dataset(tmp_path / "shapes", num_images=12, seed=2, format="yolo")
    data_yaml = root / "data.yaml"
    assert yaml.safe_load(data_yaml.read_text())["train"] == "../train/images"  # Roboflow's
    proc = run("train", "--data", str(data_yaml), *TINY, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "WARNING" not in proc.stderr and "do not exist here" not in proc.stderr
    assert "9 train, 2 valid, 1 test images; classes ['circle', 'square', 'star', 'triangle']" \
        in proc.stdout
    run_dir = tmp_path / "runs" / "train"
    assert yaml.safe_load((run_dir / "args.yaml").read_text())["data"] == str(data_yaml.resolve())
    proc = run("val", "--data", str(data_yaml), "--checkpoint", str(run_dir / "model.pt"),
               "--split", "test", "--out", str(tmp_path / "m.json"), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "WARNING" not in proc.stderr and "COCOMetric on 1 test images" in proc.stdout
    metrics = json.loads((tmp_path / "m.json").read_text())
    assert -1 <= metrics["AP (IoU=0.50) area=all"] <= 1
