"""The converted IceVision suite's machinery (tests/icevision_suite/): the converter renames
imports and nothing else, the exclusions use only the allowed reasons, and the package's star
import offers what IceVision's did; and the IceVision-parity pieces the suite relies on."""

from __future__ import annotations

import ast
import copy
import importlib.util
import json
import pickle
import re
import sys
from pathlib import Path

import numpy as np
import pytest

from efficientdet_adapter import BBox, ClassMap, parsers
from efficientdet_adapter.base.errors import ArgumentError, AutofixAbort, InvalidDataError, ParseError
from efficientdet_adapter.records.components import (
    BBoxesRecordComponent,
    ComponentRecord,
    FilepathRecordComponent,
    InstancesLabelsRecordComponent,
)
from efficientdet_adapter.records.record import Record

SUITE = Path(__file__).parent / "icevision_suite"
MIRROR = Path("/work/.mirror/airctic+icevision/repo")


def _load(name: str):
    spec = importlib.util.spec_from_file_location(f"_suite_{name}", SUITE / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize(
    "source, expected",
    [
        ("from icevision.all import *\n", "from efficientdet_adapter.all import *\n"),
        ("    from icevision.models.ross import efficientdet\n",
         "    from efficientdet_adapter.models.ross import efficientdet\n"),
        ("import icevision\n", "import efficientdet_adapter as icevision\n"),
        ('mocker.patch("icevision.engines.x.Y.log")\n',
         'mocker.patch("efficientdet_adapter.engines.x.Y.log")\n'),
        # strings, comments and other names stay as they are
        ('x = "/home/icevision/samples"  # icevision\n', 'x = "/home/icevision/samples"  # icevision\n'),
        ("from icevisionary import a\n", "from icevisionary import a\n"),
    ],
)
def test_the_converter_renames_imports_and_nothing_else(source, expected):
    assert _load("convert").rename_imports(source) == expected


def test_the_committed_conversion_is_what_the_converter_writes(tmp_path):
    if not (MIRROR / "HEAD").exists() and not (MIRROR / "refs").exists():
        pytest.skip(f"IceVision's repository is not mirrored at {MIRROR}")
    shared = Path(__file__).resolve().parents[2] / "shared" / "data" / "icevision-samples"
    if not shared.is_dir():  # the converter counts the samples it finds there
        pytest.skip(f"shared sample data not found at {shared} (clone with ../shared beside)")
    convert = _load("convert")
    counts = convert.convert(MIRROR, "0.12.0", tmp_path)
    assert counts["test_files"] == 37 and counts["shared_samples"] == 28
    for path in sorted((tmp_path / "tests").rglob("*.py")):
        committed = SUITE / path.relative_to(tmp_path)
        assert committed.read_text() == path.read_text(), committed
    assert (tmp_path / "samples.json").read_text() == (SUITE / "samples.json").read_text()


def test_every_exclusion_has_an_allowed_reason():
    conftest = _load("conftest")
    exclusions = conftest.read_exclusions()
    assert len(exclusions) >= 35
    reasons = set(conftest.REASONS.values())
    assert all(any(text.startswith(r) for r in reasons) for text in exclusions.values())
    assert exclusions["data/test_convert_records_to_fo.py"].startswith("FiftyOne")


def test_an_exclusion_with_another_reason_is_refused(tmp_path):
    conftest = _load("conftest")
    bad = tmp_path / "exclusions.txt"
    bad.write_text("core/test_bbox.py | slow: it takes long\n")
    with pytest.raises(pytest.UsageError, match=r"exclusions.txt:1: reason 'slow' is not one of "):
        conftest.read_exclusions(bad)


#: What a converted test may use only on the versions IceVision 0.12 pinned (removed since).
REMOVED_API = re.compile(r"\bnp\.(float|int|bool|object)\b(?!\d|_)|\bweights_summary\b|"
                         r"\bcheckpoint_callback\s*=|\bprogress_bar_refresh_rate\b|\bgpus\s*=")


def _test_source(test_id: str) -> str:
    file, _, name = test_id.partition("::")
    text = (SUITE / "tests" / file).read_text(encoding="utf-8")
    if not name:
        return text
    name = name.split("[")[0].split("::")[-1]
    (node,) = [n for n in ast.walk(ast.parse(text))
               if isinstance(n, ast.FunctionDef) and n.name == name]
    return ast.get_source_segment(text, node)


def test_a_network_exclusion_is_lifted_only_where_the_test_can_then_pass():
    """A `network` test runs once the fridge weights are cached, so it must use no removed API;
    a `removed-api` exclusion stays whatever is cached."""
    conftest = _load("conftest")
    network = [t for t, why in conftest.EXCLUSIONS.items() if why.startswith("the network")]
    assert len(network) >= 10
    for test_id in network:
        assert not REMOVED_API.search(_test_source(test_id)), test_id
    light = "models/efficient_det/lightning/test_train.py::test_lightining_efficientdet_train"
    assert REMOVED_API.search(_test_source(light)).group() == "weights_summary"
    assert conftest._excluded(light, network_ok=True).startswith("the test itself uses an API")
    assert conftest._excluded(network[0], network_ok=True) is None
    assert conftest._excluded(network[0], network_ok=False).startswith("the network")


def test_the_star_import_names_table_is_current():
    from efficientdet_adapter import _icevision_names

    make = _load("make_icevision_names")
    assert make.render(make.icevision_star_names()) == make.TARGET.read_text(encoding="utf-8"), (
        "rewrite it: python tests/icevision_suite/make_icevision_names.py")

    namespace: dict = {}
    exec("from efficientdet_adapter import *", namespace)  # noqa: S102 - the statement under test
    for name in ("RecordCollection", "BaseRecord", "open_img", "get_image_size", "pbar",
                 "autofix_records", "notnone", "FilepathRecordComponent", "KeypointsMetadata",
                 "IDMap", "SimpleConfusionMatrix", "CaptureStdout", "as_rgb_tuple"):
        assert name in namespace, name
    assert set(_icevision_names.ICEVISION_STAR) <= set(namespace)


def _component_record() -> ComponentRecord:
    return ComponentRecord((FilepathRecordComponent(), InstancesLabelsRecordComponent(),
                            BBoxesRecordComponent()))


def test_a_component_record_is_a_record_whose_components_read_through():
    record = _component_record()
    record.set_record_id(7)
    record.set_filepath("a.jpg")
    record.set_img_size((64, 48))
    record.detection.set_class_map(ClassMap(["cat", "dog"]))
    record.detection.add_labels(["dog"])
    record.detection.add_bboxes([BBox.from_xyxy(1, 2, 30, 40)])
    assert isinstance(record, Record) and record.label_ids == [2]
    boxes = next(c for c in record.components if isinstance(c, BBoxesRecordComponent))
    assert boxes.bboxes is record.bboxes and record.img_size is record.img_size
    assert record.num_annotations() == {"common": {}, "detection": {"labels": 1, "bboxes": 1}}
    copied = copy.deepcopy(record)
    assert copied == record and copied.components[0].composite is copied
    again = pickle.loads(pickle.dumps(record))
    assert [type(c).__name__ for c in again.components] == [type(c).__name__
                                                            for c in record.components]


def test_autofix_aborts_a_record_whose_image_is_missing(tmp_path):
    record = _component_record()
    record.set_filepath(tmp_path / "gone.jpg")
    record.set_img_size((10, 10))
    with pytest.raises(AutofixAbort, match=r"gone.jpg does not exist"):
        record.autofix()
    assert issubclass(AutofixAbort, InvalidDataError)


def test_bbox_autofix_is_in_place_and_clipped_is_a_new_box():
    box = BBox.from_xyxy(-1, 1, 4, 4)
    assert box.clipped(3, 2).xyxy == (0, 1, 3, 2) and box.xyxy == (-1, 1, 4, 4)
    assert box.autofix(3, 2) is box and box.xyxy == (0, 1, 3, 2)
    with pytest.raises(InvalidDataError, match=r"has no area inside the 2x2 image"):
        BBox.from_xyxy(3, 1, 4, 2).autofix(2, 2)


def _coco(tmp_path: Path) -> Path:
    images = [{"id": i, "file_name": f"{i}.jpg", "width": 32, "height": 24} for i in (5, 6, 9)]
    anns = [{"id": 1, "image_id": 9, "category_id": 3, "bbox": [1, 1, 10, 10], "area": 100,
             "iscrowd": 0},
            {"id": 2, "image_id": 5, "category_id": 1, "bbox": [2, 2, 10, 10], "area": 100,
             "iscrowd": 0}]
    cats = [{"id": 1, "name": "cat"}, {"id": 3, "name": "dog"}]
    path = tmp_path / "ann.json"
    path.write_text(json.dumps({"images": images, "annotations": anns, "categories": cats}))
    return path


def test_coco_parsers_icevision_results_and_the_librarys(tmp_path):
    path = _coco(tmp_path)
    ice = parsers.COCOBBoxParser(path, tmp_path).parse_records()
    assert [r.record_id for r in ice] == [9, 5]  # annotation order, image 6 (no boxes) left out
    assert ice[0].class_map.get_classes() == ["background", "cat", "__unused_2__", "dog"]
    assert ice[0].label_ids == [3] and ice[1].label_ids == [1]
    ours = parsers.COCOParser(path, tmp_path).parse_records()
    assert [r.record_id for r in ours] == [5, 6, 9] and ours[2].label_ids == [2]
    as_dict = parsers.COCOBBoxParser(json.loads(path.read_text()), tmp_path)
    assert [r.record_id for r in as_dict.parse_records()] == [9, 5]
    with pytest.raises(ArgumentError, match="class_ids='sparse' is not one of"):
        parsers.COCOParser(path, tmp_path, class_ids="sparse")


def test_the_via_parser_reads_rects_and_polygons(tmp_path):
    from PIL import Image

    Image.new("RGB", (64, 48)).save(tmp_path / "a.jpg")
    regions = [
        {"shape_attributes": {"name": "rect", "x": 1, "y": 2, "width": 10, "height": 20},
         "region_attributes": {"label": "cat"}},
        {"shape_attributes": {"name": "polygon", "all_points_x": [5, 9, 7],
                              "all_points_y": [3, 4, 8]}, "region_attributes": {"label": "dog"}},
        {"shape_attributes": {"name": "rect", "x": 0, "y": 0, "width": 1, "height": 1},
         "region_attributes": {"label": "###"}},
    ]
    data = {"a.jpg1": {"filename": "a.jpg", "regions": regions}}
    (records,) = parsers.via(data, tmp_path, ClassMap(["cat", "dog"])).parse(
        parsers.SingleSplitSplitter())
    assert [b.xyxy for b in records[0].bboxes] == [(1, 2, 11, 22), (5, 3, 9, 8)]
    assert records[0].label_ids == [1, 2] and (records[0].width, records[0].height) == (64, 48)
    data["a.jpg1"]["regions"][0]["region_attributes"] = {"label": 3}
    with pytest.raises(parsers.VIAParseError, match=r"Non-string value .*\[a.jpg\]"):
        parsers.via(data, tmp_path, ClassMap(["cat"])).parse()


def test_parse_cache_and_template_record(tmp_path):
    from PIL import Image

    Image.new("RGB", (32, 32)).save(tmp_path / "x.jpg")

    class Rows(parsers.Parser):
        def __init__(self):
            super().__init__(ClassMap(["cat"]), template_record=_component_record())

        def __iter__(self):
            return iter([("x", 1), ("x", 2)])

        def record_id(self, o):
            return o[0]

        def parse_fields(self, o, record, is_new):
            if is_new:
                record.set_filepath(tmp_path / f"{o[0]}.jpg")
                record.set_img_size((32, 32))
            record.detection.add_labels(["cat"])
            record.detection.add_bboxes([BBox.from_xyxy(o[1], 1, 9, 9)])

    cache = tmp_path / "records.pkl"
    (records,) = Rows().parse(parsers.SingleSplitSplitter(), cache_filepath=cache)
    assert isinstance(records[0], ComponentRecord) and len(records[0].bboxes) == 2
    assert records[0].is_new is False and cache.is_file()
    (again,) = Rows().parse(parsers.SingleSplitSplitter(), cache_filepath=cache)
    assert [b.xyxy for b in again[0].bboxes] == [b.xyxy for b in records[0].bboxes]
    cache.write_bytes(b"not a pickle")
    with pytest.raises(ParseError, match=r"records.pkl: not a parse cache"):
        Rows().parse(cache_filepath=cache)


def test_open_img_gives_icevision_a_pil_image():
    from efficientdet_adapter.utils.imageio import open_img

    path = Path(__file__).parent / "icevision_suite" / "samples_extra" / "images2" / "flies.jpeg"
    img = open_img(path)
    assert img.size == (2592, 3888) and img.shape == (3888, 2592)  # EXIF orientation applied
    assert np.asarray(img).shape == (3888, 2592, 3) and open_img(path, gray=True).mode == "L"


@pytest.mark.parametrize("pad_value, fill", [(0, [0, 0, 0]), ((1, 2, 3), [1, 2, 3])])
def test_img_pad_stack_pads_bottom_right_and_keeps_the_sizes(pad_value, fill):
    from efficientdet_adapter.records.components import ImageRecordComponent
    from efficientdet_adapter.tfms.batch import ImgPadStack

    records = []
    for shape in [(2, 4, 3), (3, 2, 3)]:
        r = ComponentRecord((ImageRecordComponent(),))
        r.set_img(np.full(shape, 9.0))
        records.append(r)
    out = ImgPadStack(pad_value)(records)
    assert [r.img.shape for r in out] == [(3, 4, 3), (3, 4, 3)]
    assert out[0].img[2, 0].tolist() == fill and out[1].img[0, 3].tolist() == fill
    assert out[1].img[:3, :2].min() == 9.0
    assert [(r.height, r.width) for r in out] == [(2, 4), (3, 2)]


def test_postprocess_bbox_maps_a_box_back_to_the_original_image():
    from PIL import Image

    from efficientdet_adapter import tfms
    from efficientdet_adapter.models.inference import postprocess_bbox

    img = Image.new("RGB", (200, 100))  # 128 px: scale 0.64, 32 px of padding above and below
    tfm_list = [*tfms.A.resize_and_pad(128), tfms.A.Normalize()]
    box = BBox.from_xyxy(32, 48, 96, 80)
    assert postprocess_bbox(img, box, tfm_list, 128, 128) == (50, 25, 150, 75)
