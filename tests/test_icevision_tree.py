"""IceVision 0.12's public module tree under efficientdet_adapter: every module path and every
public name from IceVision's own source (tests/fixtures/icevision_0_12_modules.json, generated
by make_icevision_0_12_modules.py from tag 0.12.0) imports, or is declared not offered with a
reason in its face's ``NOT_OFFERED``; other model families refuse to import with a clear error."""

from __future__ import annotations

import importlib
import types
import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

FIXTURE = Path(__file__).parent / "fixtures" / "icevision_0_12_modules.json"
TREE = json.loads(FIXTURE.read_text())
MODULES: dict[str, list[str]] = TREE["modules"]

#: Names an EfficientDet user cannot do without: never "not offered".
ESSENTIAL = {
    "icevision.models.ross.efficientdet": ["model", "train_dl", "valid_dl", "infer_dl", "predict",
                                           "predict_from_dl", "end2end_detect", "show_results",
                                           "show_batch", "tf_lite0", "d0", "loss_fn", "interp"],
    "icevision.models.ross.efficientdet.lightning": ["ModelAdapter"],
    "icevision.models.ross.efficientdet.fastai": ["learner", "EfficientDetCallback"],
    "icevision.parsers": ["Parser", "COCOBBoxParser", "VOCBBoxParser", "voc"],
    "icevision.data": ["Dataset", "RandomSplitter", "FixedSplitter", "SingleSplitSplitter",
                       "RecordCollection", "Prediction"],
    "icevision.core": ["BBox", "ClassMap", "BaseRecord", "ObjectDetectionRecord", "IDMap"],
    "icevision.metrics": ["COCOMetric", "COCOMetricType", "Metric"],
    "icevision.tfms.albumentations": ["Adapter", "aug_tfms", "resize_and_pad"],
    "icevision.visualize": ["show_record", "show_records", "draw_record", "show_sample"],
    "icevision.models.checkpoint": ["model_from_checkpoint", "save_icevision_checkpoint"],
}


def ours(module: str) -> str:
    return "efficientdet_adapter" + module[len("icevision"):]


def test_the_fixture_records_its_source():
    assert TREE["tag"] == "0.12.0" and len(TREE["commit"]) == 40
    assert TREE["source"] == "https://github.com/airctic/icevision"
    assert "icevision.models.ross.efficientdet.lightning.model_adapter" in MODULES
    assert len(MODULES) >= 90 and sum(map(len, MODULES.values())) >= 500


#: Faces whose names come from an optional extra (skipped where it is not installed).
NEEDS_EXTRA = {"icevision.models.inference_sahi": "sahi"}


def _skip_without_its_extra(module: str) -> None:
    package = NEEDS_EXTRA.get(module)
    if package is not None and importlib.util.find_spec(package) is None:
        pytest.skip(f"{module}'s names need the {package} extra, not installed here")


@pytest.mark.parametrize("module", sorted(MODULES))
def test_every_module_and_name_imports_or_says_why_not(module):
    _skip_without_its_extra(module)
    face = importlib.import_module(ours(module))
    declared = getattr(face, "NOT_OFFERED", {})
    gaps, refused = [], []
    for name in MODULES[module]:
        if name.startswith("_"):
            continue  # IceVision's private helpers (_end2end_detect...): deliberately not faced
        if name in declared:
            assert declared[name], f"{module}.{name}: a reason is required"
            if not isinstance(getattr(face, name, None), types.ModuleType):
                # (a face's submodule of that name, once imported, is an attribute of it)
                with pytest.raises(AttributeError):
                    getattr(face, name)
            refused.append(name)
            continue
        try:
            getattr(face, name)
        except AttributeError:
            gaps.append(name)
    assert gaps == [], f"{ours(module)} lacks IceVision's {gaps}"
    assert sorted(set(declared) - set(MODULES[module])) == []  # no stale reasons
    assert not set(refused) & set(ESSENTIAL.get(module, []))


@pytest.mark.parametrize("module", sorted(m for m in MODULES if MODULES[m]))
def test_star_import_gives_the_offered_names(module):
    _skip_without_its_extra(module)
    face = importlib.import_module(ours(module))
    names: dict = {}
    exec(f"from {ours(module)} import *", names)  # noqa: S102 - the user's import line
    offered = [n for n in MODULES[module]
               if not n.startswith("_") and n not in getattr(face, "NOT_OFFERED", {})]
    assert [n for n in offered if n not in names] == []


def test_not_offered_names_say_why():
    from efficientdet_adapter.core import mask

    with pytest.raises(AttributeError, match=r"core\.mask\.MaskArray: IceVision's MaskArray is "
                                             r"not offered by efficientdet_adapter \(masks"):
        mask.MaskArray  # noqa: B018
    with pytest.raises(ImportError, match="cannot import name 'COCOMaskParser'"):
        exec("from efficientdet_adapter.parsers.coco_parser import COCOMaskParser", {})  # noqa: S102


def test_faces_are_the_library_objects():
    from efficientdet_adapter import efficientdet
    from efficientdet_adapter.core import BaseRecord, ClassMap
    from efficientdet_adapter.data.record_collection import RecordCollection
    from efficientdet_adapter.models.ross import efficientdet as model_type
    from efficientdet_adapter.models.ross.efficientdet.lightning import ModelAdapter
    from efficientdet_adapter.records.record import Record
    from efficientdet_adapter.tfms import albumentations as A

    # IceVision's BaseRecord(components): a Record that lists its components
    assert issubclass(BaseRecord, Record) and BaseRecord.__name__ == "ComponentRecord"
    assert ClassMap is importlib.import_module(
        "efficientdet_adapter.records.class_map").ClassMap
    assert model_type.model is efficientdet.model and model_type.train_dl is efficientdet.train_dl
    assert model_type.set_img_size is efficientdet.set_img_size  # every name of efficientdet
    assert model_type.lightning.ModelAdapter is ModelAdapter
    assert ModelAdapter is importlib.import_module("efficientdet_adapter.efficientdet.lightning"
                                                   ).ModelAdapter
    assert model_type.fastai.learner is importlib.import_module(
        "efficientdet_adapter.efficientdet.fastai").learner
    assert A.Adapter is importlib.import_module("efficientdet_adapter.tfms").A.Adapter
    assert A.HorizontalFlip.__module__.startswith("albumentations")
    assert RecordCollection.__module__ == "efficientdet_adapter.records.collection"


@pytest.mark.parametrize("family", ["mmdet", "torchvision", "ultralytics", "fastai"])
def test_other_model_families_say_only_efficientdet(family):
    assert any(m.startswith(f"icevision.models.{family}") for m in TREE["other_families"])
    message = f"IceVision's {family} models are not offered; efficientdet_adapter trains EfficientDet only"
    if family == "torchvision":  # IceVision's conftest imports faster_rcnn and keypoint_rcnn
        module = importlib.import_module("efficientdet_adapter.models.torchvision")
        with pytest.raises(ImportError, match=message + r".*\(faster_rcnn.model was used\)"):
            module.faster_rcnn.model(num_classes=5)
    else:
        with pytest.raises(ImportError, match=message):
            importlib.import_module(f"efficientdet_adapter.models.{family}")
    sub = {"mmdet": "retinanet", "torchvision": "faster_rcnn", "ultralytics": "yolov5",
           "fastai": "unet"}[family]
    with pytest.raises(ImportError, match="trains EfficientDet only"):
        importlib.import_module(f"efficientdet_adapter.models.{family}.{sub}")


def test_an_icevision_users_module_runs_with_the_package_name_swapped(tmp_path):
    """Precise imports, as projects and their tests write them (in a fresh interpreter)."""
    code = """
from efficientdet_adapter.models.ross.efficientdet.lightning import ModelAdapter
from efficientdet_adapter.models.ross import efficientdet
from efficientdet_adapter.data.data_splitter import RandomSplitter
from efficientdet_adapter.data.record_collection import RecordCollection
from efficientdet_adapter.data.dataset import Dataset
from efficientdet_adapter.parsers.coco_parser import COCOBBoxParser
from efficientdet_adapter.tfms import albumentations as A
from efficientdet_adapter.tfms.albumentations import Adapter, aug_tfms
from efficientdet_adapter.metrics.coco_metric import COCOMetric, COCOMetricType
from efficientdet_adapter.models.checkpoint import model_from_checkpoint
from efficientdet_adapter.models.inference import *
from efficientdet_adapter.imports import *
from efficientdet_adapter.utils import *
from efficientdet_adapter.core import *
tfm = A.Adapter([*A.resize_and_pad(128), A.Normalize()])
print(len(tfm.tfms_list), efficientdet.backbones.tf_lite0().model_name, np.__name__,
      COCOMetric(metric_type=COCOMetricType.bbox).name, notnone(None), BBox.from_xyxy(0, 0, 1, 1).area)
"""
    script = tmp_path / "user_module.py"
    script.write_text(code)
    env_path = str(Path(__file__).resolve().parents[1])
    proc = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                          env={"PYTHONPATH": env_path, "PATH": "/usr/bin:/bin"}, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.split() == ["3", "tf_efficientdet_lite0", "numpy", "COCOMetric", "False",
                                   "1.0"]
