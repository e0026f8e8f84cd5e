"""IceVision's names: the star import's namespace, helpers, custom parsers and pictures."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from efficientdet_adapter import BBox, ClassMap, ImgSize, Parser, parsers
from efficientdet_adapter.compat import (
    IDMap,
    ObjectDetectionRecord,
    denormalize_imagenet,
    get_image_files,
    get_img_size,
    normalize_imagenet,
)
from efficientdet_adapter.records.predictions import Prediction
from efficientdet_adapter.records.record import Record
from efficientdet_adapter.pictures.draw import draw_record, show_record, show_records, show_samples

REPO_ROOT = Path(__file__).resolve().parents[1]

# What IceVision's notebooks use from `from icevision.all import *` without importing it.
NOTEBOOK_NAMES = [
    "Path", "PIL", "np", "torch", "nn", "F", "random", "first", "Adam", "SGD", "AdamW", "pl",
    "Any", "Hashable", "List", "Union", "Optional", "partial", "json", "os", "re", "plt",
    "DataLoader", "tqdm", "parsers", "tfms", "Dataset", "ClassMap", "BBox", "ImgSize", "Parser",
    "ObjectDetectionRecord", "COCOMetric", "COCOMetricType", "RandomSplitter", "FixedSplitter",
    "show_record", "show_records", "show_sample", "show_samples", "show_pred", "show_preds",
    "draw_record", "get_default_font", "denormalize_imagenet", "get_image_files",
    "get_img_size", "models", "efficientdet", "model_from_checkpoint",
    "save_icevision_checkpoint", "wandb_img_preds", "class_map", "IDMap",
]


def test_star_import_brings_what_icevision_notebooks_use():
    code = (
        "from efficientdet_adapter.all import *\n"
        "names = set(globals())\n"
        f"missing = [n for n in {NOTEBOOK_NAMES!r} if n not in names]\n"
        "print('MISSING', missing)\n"
        "print(models.ross.efficientdet.model is efficientdet.model, F.relu is torch.nn.functional.relu)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=REPO_ROOT, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "MISSING []" in out.stdout
    assert "True True" in out.stdout


def test_the_package_itself_has_no_star_imports():
    offenders = [
        str(p.relative_to(REPO_ROOT)) for p in (REPO_ROOT / "efficientdet_adapter").rglob("*.py")
        if p.name != "all.py" and "import *" in p.read_text()
    ]
    assert offenders == []


def test_models_namespace_offers_efficientdet_only():
    from efficientdet_adapter import efficientdet, models

    # IceVision's path is a module of its own (with IceVision's submodule paths) that offers
    # every name of efficientdet
    model_type = models.ross.efficientdet
    assert model_type.model is efficientdet.model and model_type.fastai.learner is (
        efficientdet.fastai.learner)
    with pytest.raises(AttributeError, match="EfficientDet only; use models.ross.efficientdet"):
        models.mmdet.vfnet  # noqa: B018


class ChessLikeParser(Parser):
    """IceVision's custom-parser protocol, as its custom_parser notebook writes it."""

    def __init__(self, template_record, rows):
        super().__init__(template_record=template_record)
        self.rows = rows
        self.class_map = ClassMap(sorted({r["label"] for r in rows}))

    def __iter__(self):
        yield from self.rows

    def __len__(self):
        return len(self.rows)

    def record_id(self, o):
        return o["file"]

    def parse_fields(self, o, record, is_new):
        if is_new:
            record.set_filepath(o["file"])
            record.set_img_size(ImgSize(width=64, height=48))
            record.detection.set_class_map(self.class_map)
        record.detection.add_bboxes([BBox.from_xyxy(*o["box"])])
        record.detection.add_labels([o["label"]])


def test_custom_parser_with_icevision_protocol(tmp_path):
    for name in ("a.jpg", "b.jpg"):
        Image.new("RGB", (64, 48)).save(tmp_path / name)
    rows = [
        {"file": tmp_path / "a.jpg", "label": "rook", "box": (1, 2, 30, 40)},
        {"file": tmp_path / "a.jpg", "label": "king", "box": (5, 5, 20, 20)},
        {"file": tmp_path / "b.jpg", "label": "rook", "box": (0, 0, 10, 10)},
    ]
    template = ObjectDetectionRecord()
    assert (template.width, template.num_objects) == (0, 0)
    parser = ChessLikeParser(template, rows)
    [records] = parser.parse(parsers.SingleSplitSplitter())
    by_id = {r.record_id: r for r in records}
    a = by_id[tmp_path / "a.jpg"]
    assert a.labels == ["rook", "king"] and a.label_ids == [2, 1]  # king=1, rook=2 (sorted)
    assert (a.width, a.height) == (64, 48)
    assert [b.xyxy for b in a.bboxes] == [(1.0, 2.0, 30.0, 40.0), (5.0, 5.0, 20.0, 20.0)]


def test_generate_template_prints_the_protocol(capsys):
    text = Parser.generate_template(ObjectDetectionRecord())
    printed = capsys.readouterr().out
    assert printed.strip() == text.strip()
    for line in ("def record_id(self, o: Any) -> Hashable:", "record.detection.add_bboxes("):
        assert line in text


def test_class_map_is_live_before_parse(samples_dir):
    parser = parsers.VOCBBoxParser(samples_dir / "fridge" / "annotations",
                                   samples_dir / "fridge" / "images")
    early = parser.class_map
    assert early.get_classes() == ["background"]
    parser.parse()
    assert parser.class_map is early
    assert early.get_classes() == ["background", "can", "carton", "milk_bottle", "water_bottle"]


def test_voc_function_form(samples_dir):
    parser = parsers.voc(samples_dir / "fridge" / "annotations", samples_dir / "fridge" / "images",
                         ClassMap(["milk_bottle", "carton", "can", "water_bottle"]))
    assert isinstance(parser, parsers.VOCBBoxParser)
    train, valid = parser.parse()
    assert len(train) + len(valid) == 6


def test_get_image_files_and_get_img_size(tmp_path):
    (tmp_path / "sub").mkdir()
    Image.new("RGB", (30, 20)).save(tmp_path / "b.jpg")
    Image.new("RGB", (10, 40)).save(tmp_path / "sub" / "a.PNG")
    (tmp_path / "notes.txt").write_text("not an image")
    (tmp_path / ".hidden.jpg").write_bytes(b"")
    assert get_image_files(tmp_path) == [tmp_path / "b.jpg", tmp_path / "sub" / "a.PNG"]
    assert get_image_files(tmp_path, recurse=False) == [tmp_path / "b.jpg"]
    assert get_img_size(tmp_path / "sub" / "a.PNG") == ImgSize(width=10, height=40)
    with pytest.raises(FileNotFoundError, match="nowhere: not a folder"):
        get_image_files(tmp_path / "nowhere")


def test_get_img_size_applies_exif_rotation(tmp_path):
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90: a 40x20 stored image shows as 20x40
    Image.new("RGB", (40, 20)).save(tmp_path / "r.jpg", exif=exif)
    assert get_img_size(tmp_path / "r.jpg") == ImgSize(width=20, height=40)


def test_imagenet_normalize_round_trip():
    img = np.random.default_rng(0).integers(0, 256, (5, 7, 3), dtype=np.uint8)
    normalized = normalize_imagenet(img)
    assert normalized.dtype == np.float32 and abs(float(normalized.mean())) < 3
    np.testing.assert_array_equal(denormalize_imagenet(normalized), img)
    chw = normalized.transpose(2, 0, 1)  # a tensor's CHW layout is accepted too
    np.testing.assert_array_equal(denormalize_imagenet(chw), img)


def test_idmap():
    ids = IDMap(["x"])
    assert [ids["x"], ids["y"], ids["x"]] == [0, 1, 0]
    assert ids.get_id(1) == "y" and len(ids) == 2


def _record(img_size=(80, 60)) -> Record:
    w, h = img_size
    img = np.full((h, w, 3), 200, np.uint8)
    cm = ClassMap(["cat"])
    return Record(0, None, w, h, labels=["cat"], label_ids=[1],
                  bboxes=[BBox.from_xyxy(10, 10, 50, 40)], img=img, class_map=cm)


def test_draw_record_returns_the_image_with_boxes():
    record = _record()
    drawn = draw_record(record, display_label=True)
    assert drawn.shape == (60, 80, 3) and drawn.dtype == np.uint8
    changed = (drawn != 200).any(axis=-1)
    assert changed[10, 10:50].mean() > 0.8  # the top edge of the box
    assert not changed[55:, 60:].any()  # far from the box: untouched
    pil = draw_record(record, return_as_pil_img=True, font_size=12, label_color="#FF59D6")
    assert isinstance(pil, Image.Image) and pil.size == (80, 60)
    bare = draw_record(record, display_bbox=False)
    assert (bare == 200).all()


def test_prediction_reads_as_icevision_dict():
    record = _record()
    pred = Prediction(boxes=[[10, 10, 50, 40], [0, 0, 5, 5]], scores=[0.9, 0.2],
                      label_ids=[1, 1], detection_threshold=0.5, class_map=record.class_map,
                      width=80, height=60, img=record.img)
    assert pred.pred is pred and pred.pred.detection.bboxes == [BBox.from_xyxy(10, 10, 50, 40)]
    assert pred.detection.scores.tolist() == pytest.approx([0.9]) and len(pred.scores) == 2
    det = pred["detection"]
    assert det["labels"] == ["cat"] and det["scores"].tolist() == pytest.approx([0.9])
    assert (pred["width"], pred["height"]) == (80, 60)
    assert isinstance(pred["img"], Image.Image) and pred["img"].size == (80, 60)
    with pytest.raises(KeyError, match="keys"):
        pred["masks"]


def test_pictures_take_icevision_arguments(tmp_path):
    record = _record()
    fig = show_record(record, display_label=False, figsize=(14, 10))
    assert fig.get_size_inches().tolist() == [10.0, 10.0]  # one square cell: min(14, 10)
    # IceVision's negative-samples notebook passes the module `class_map`: ignored, as there
    import efficientdet_adapter.records.class_map as class_map_module

    fig = show_records([record, record], ncols=2, class_map=class_map_module)
    assert [t.get_text() for t in fig.axes[0].texts] == ["cat"]
    sample = record.copy(img=normalize_imagenet(record.img))
    fig = show_samples([sample], ncols=1, denormalize_fn=denormalize_imagenet,
                       save_path=tmp_path / "s.png")
    shown = fig.axes[0].images[0].get_array()
    assert int(np.asarray(shown)[0, 0, 0]) == 200  # un-normalized by the given function


def test_batch_records_without_pixels_are_refused_not_drawn_wrong(tmp_path):
    """A batch's records hold transformed boxes but no pixels: drawing them on the original
    file would put the boxes in the wrong place, so the pictures say what to do instead."""
    Image.new("RGB", (300, 200)).save(tmp_path / "a.jpg")
    transformed = Record(0, tmp_path / "a.jpg", 128, 128, labels=["cat"], label_ids=[1],
                         bboxes=[BBox.from_xyxy(1, 2, 30, 40)], class_map=ClassMap(["cat"]))
    with pytest.raises(ValueError, match=r"a.jpg: .*128x128 transformed image.*show_batch"):
        show_samples([transformed])
    with pytest.raises(ValueError, match="carries no pixels"):
        draw_record(transformed)
    original = transformed.copy(width=300, height=200)
    assert draw_record(original).shape == (200, 300, 3)  # its own file: drawn


def test_prediction_detection_is_aligned_like_icevision():
    """IceVision code pairs ``pred.detection`` attributes row by row (``zip(bboxes, scores)``)."""
    pred = Prediction(boxes=[[0, 0, 10, 10], [5, 5, 20, 20], [1, 1, 30, 30]],
                      scores=[0.9, 0.3, 0.7], label_ids=[1, 2, 2], detection_threshold=0.5)
    det = pred.detection
    assert len(det) == 2 and det.label_ids == [1, 2] and det.labels == ["1", "2"]
    assert [(b.xyxy, round(float(s), 3)) for b, s in zip(det.bboxes, det.scores)] == [
        ((0, 0, 10, 10), 0.9), ((1, 1, 30, 30), 0.7)]
    assert pred["detection"]["scores"].tolist() == det.scores.tolist()
    assert pred.with_threshold(0.2).detection.scores.size == 3
