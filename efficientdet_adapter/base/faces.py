"""IceVision 0.12's module tree as thin faces: what the faces share.

Every module of IceVision 0.12 that an EfficientDet user imports has a face at the same dotted
path under ``efficientdet_adapter`` (``icevision.parsers.coco_parser`` ->
``efficientdet_adapter.parsers.coco_parser``). A face re-exports this library's object for each of
IceVision's public names; a name this library does not offer is listed in the face's
``NOT_OFFERED`` with the reason, and reading it raises an ``AttributeError`` that says so.

Faces sit at the edge: nothing inside the package imports them (``tests/test_layers.py``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from types import ModuleType
from typing import Any

__all__ = ["gather", "not_offered", "merged_not_offered", "KeypointsMetadata"]

MASKS = "masks and segmentation: this library trains EfficientDet to detect boxes only"
KEYPOINTS = "keypoints: this library trains EfficientDet to detect boxes only"
CLASSIFICATION = "classification: this library detects objects (boxes and labels)"
GRAYSCALE = "grayscale records: images load as RGB (a grayscale file is converted on load)"
COMPONENTS = ("IceVision's record components: a record here is one typed dataclass, "
              "efficientdet_adapter.records.record.Record, with the same fields and set_*/add_* methods")
ERRORS = ("errors here are the AdapterError family (efficientdet_adapter.base.errors); bad annotations "
          "raise ParseError, and autofix drops what it cannot fix and counts it in parser.report")
VIA = ("the VIA parser: use parsers.COCOBBoxParser, VOCBBoxParser, CSVBBoxParser, "
       "YOLOBBoxParser or RoboflowParser (or a custom parsers.Parser)")
FIFTYONE = "FiftyOne export: write COCO files (efficientdet_adapter.parsers.writers) and load them in FiftyOne"
BATCH_TFMS = "batch transforms: efficientdet.train_dl/valid_dl pad and stack the images themselves"
ALBU_COMPONENTS = ("IceVision's albumentations components: tfms.A.Adapter transforms a Record's "
                   "image, boxes, labels, crowd flags and areas itself")
FASTAI_ADAPTERS = ("efficientdet.fastai.learner(dls, model, metrics=[COCOMetric()]) adapts "
                   "metrics and builds the learner itself (efficientdet.fastai.fastai_metrics)")
LIGHTNING_BASE = "subclass efficientdet.lightning.ModelAdapter (models.ross.efficientdet.lightning)"
NOT_DEPENDENCY = "not a dependency of this library; import it yourself"
DOWNLOADS = "IceVision's dataset downloads: fetch files with your own tools (or torch.hub)"
INTERNAL = "an IceVision internal with no counterpart here"
BACKBONE = ("effdet has no weights for this backbone; use efficientdet.backbones.tf_d6/tf_d7/"
            "tf_d7x or the list in efficientdet.backbones.BACKBONES")
CONFUSION = ("the confusion matrix: efficientdet_adapter.training.plots draws one for a run "
             "(the train command writes confusion_matrix.png)")
BACKBONE_CONFIG = ("backbones are efficientdet.backbones.<name>(pretrained=...), which return a "
                   "BackboneSpec")
PARSER_INTERFACE = "subclass parsers.Parser (template_record, __iter__, record_id, parse_fields)"
GEOMETRY = ("each transformed sample carries the resize and padding its transform applied "
            "(sample.geometry, recorded when it ran); tfms.A.geometry(adapter, width, height) "
            "gives it for an image size")
DRAW_PARTS = ("the parts of a picture: draw_record draws boxes and labels of records and "
              "predictions; visualize.draw_boxes draws boxes on an image")
SHOW = "pictures: visualize.show_record/show_records, efficientdet.show_preds"
FILES = "file helpers: use pathlib (Path.mkdir, Path.read_text, Path.rglob) and get_image_files"
INDEXABLE = "RecordCollection is a list here; IceVision's IndexableDict is not needed"
LOGGING = ("logging goes through the standard logging module (logging.getLogger("
           "'efficientdet_adapter')); parser fixes are counted in parser.report")
LOSS_TABLES = ("the loss table helpers of IceVision's interpretation: use "
               "models.interpretation.get_samples_losses / plot_top_losses")


def not_offered(module: str, reasons: Mapping[str, str]) -> Callable[[str], Any]:
    """A module ``__getattr__``: IceVision's names in ``reasons`` raise an ``AttributeError``
    that says why this library does not offer them; others the usual one."""

    def __getattr__(name: str) -> Any:
        if name in reasons:
            raise AttributeError(
                f"{module}.{name}: IceVision's {name} is not offered by efficientdet_adapter "
                f"({reasons[name]})"
            )
        raise AttributeError(f"module {module!r} has no attribute {name!r}")

    return __getattr__


def gather(namespace: dict[str, Any], *modules: ModuleType) -> list[str]:
    """Put each module's ``__all__`` names into ``namespace`` (a package face's ``globals()``),
    as IceVision's star imports of its submodules did; returns the names, in order."""
    names: list[str] = []
    for module in modules:
        for name in module.__all__:
            namespace[name] = getattr(module, name)
            names.append(name)
    return names


def merged_not_offered(*modules: ModuleType) -> dict[str, str]:
    """The ``NOT_OFFERED`` tables of faces whose names a package face gathers."""
    out: dict[str, str] = {}
    for module in modules:
        out.update(getattr(module, "NOT_OFFERED", {}))
    return out


class KeypointsMetadata:
    """IceVision's keypoints metadata: ``labels`` names the points (kept for subclasses)."""

    labels: tuple = ()
