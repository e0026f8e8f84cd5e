"""parsers.formats: the one list of formats, Roboflow's file names and what the writers share."""

from __future__ import annotations

import argparse

import pytest

from efficientdet_adapter.parsers import writers
from efficientdet_adapter.base.errors import AdapterError, ArgumentError
from efficientdet_adapter.parsers import csv, formats, roboflow
from efficientdet_adapter.records.record import Record


def test_the_one_list_of_formats():
    assert formats.FORMATS == ("coco", "voc", "yolo", "csv")
    assert writers.EXPORT_FORMATS is roboflow.ROBOFLOW_FORMATS is formats.FORMATS
    assert csv.CSV_COLUMNS is writers.CSV_HEADER is formats.CSV_HEADER
    assert ",".join(formats.CSV_HEADER) == "filename,width,height,class,xmin,ymin,xmax,ymax"
    assert (formats.COCO_ANNOTATIONS_NAME, formats.CSV_ANNOTATIONS_NAME) == (
        "_annotations.coco.json", "_annotations.csv")
    assert formats.YOLO_DATA_FILES[0] == "data.yaml"


def _format_choices() -> dict[str, tuple]:
    from efficientdet_adapter.app.cli import build_parser

    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    return {name: tuple(action.choices) for name, p in sub.choices.items()
            for action in p._actions if action.dest == "format" and name != "export"}


def test_the_cli_reads_its_format_choices_from_the_one_list():
    choices = _format_choices()
    assert choices == {"train": ("auto", *formats.FORMATS), "eval": ("auto", *formats.FORMATS),
                       "val": ("auto", *formats.FORMATS),  # eval's other name
                       "check": ("auto", *formats.FORMATS), "demo": formats.FORMATS}


@pytest.mark.parametrize("split, fmt, expected", [
    ("train", "coco", "out/train"), ("valid", "voc", "out/valid"), ("test", "csv", "out/test"),
    ("train", "yolo", "out/train/images"),
])
def test_image_dir(split, fmt, expected):
    assert formats.image_dir("out", split, fmt).as_posix() == expected


def test_an_unknown_format_is_an_argument_error():
    with pytest.raises(ArgumentError, match=r"unknown export format 'tfrecord'; choose one of "
                                            r"\('coco', 'voc', 'yolo', 'csv'\)"):
        formats.image_dir("out", "train", "tfrecord")
    assert issubclass(ArgumentError, AdapterError) and issubclass(ArgumentError, ValueError)


@pytest.mark.parametrize("value, text", [
    (12.0, "12"), (0, "0"), (-3.0, "-3"), (0.1, "0.1"), (1 / 3, "0.3333333333333333"),
    (1e-7, "1e-07"),
])
def test_number_text(value, text):
    assert formats.number_text(value) == text
    assert float(text) == value


def test_as_splits_names_lists_in_order():
    a, b = Record(0, None, 8, 8), Record(1, None, 8, 8)
    assert formats.as_splits([a, b]) == {"train": [a, b]}
    assert formats.as_splits([[a], [b]]) == {"train": [a], "valid": [b]}
    assert formats.as_splits({"test": (a,)}) == {"test": [a]}
    with pytest.raises(ArgumentError, match="4 record lists given; name them with a dict"):
        formats.as_splits([[a], [b], [a], [b]])


def test_place_image_refuses_a_record_without_an_image(tmp_path):
    with pytest.raises(ArgumentError, match="record 7 has neither a filepath nor an image"):
        formats.place_image(Record(7, None, 8, 8), tmp_path, set())
