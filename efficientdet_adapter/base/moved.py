"""The modules that moved when the package's folders became layers (2026-12), and the import
hook that keeps their old paths working: ``import efficientdet_adapter.runs`` gives the module
``efficientdet_adapter.app.runs`` itself (one module object under two names, so patching either
patches both). New code imports the new paths; docs/architecture.md lists the layers."""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import sys
from types import ModuleType

PACKAGE = "efficientdet_adapter"

#: old path -> new path, both under ``efficientdet_adapter.``
MOVED: dict[str, str] = {
    "_faces": "base.faces",
    "arguments": "base.arguments",
    "atomic": "base.atomic",
    "auto_options": "training.auto_options",
    "bbox": "records.bbox",
    "check": "app.check",
    "choices": "base.choices",
    "class_map": "records.class_map",
    "class_scores": "metrics.class_scores",
    "cli": "app.cli",
    "dataset": "records.dataset",
    "demo": "app.demo",
    "devices": "base.devices",
    "efficientdet._targets": "model.ops.targets",
    "efficientdet.anchor_fit": "model.anchor_fit",
    "efficientdet.anchor_labels": "model.ops.anchor_labels",
    "efficientdet.anchor_sizes": "model.anchor_sizes",
    "efficientdet.backbones": "model.backbones",
    "efficientdet.batched_nms": "model.ops.batched_nms",
    "efficientdet.config": "model.config",
    "efficientdet.dataloaders": "loop.dataloaders",
    "efficientdet.interpretation": "inference.interpretation",
    "efficientdet.model": "model.model",
    "efficientdet.onnx_model": "model.onnx_model",
    "efficientdet.postprocess": "model.ops.postprocess",
    "efficientdet.prediction": "inference.prediction",
    "efficientdet.resize": "model.resize",
    "efficientdet.runtime": "model.runtime",
    "efficientdet.show": "pictures.show",
    "efficientdet.tiling": "inference.tiling",
    "efficientdet.wrappers": "model.wrappers",
    "engines.step_values": "loop.step_values",
    "engines.steps": "loop.steps",
    "errors": "base.errors",
    "export_formats": "checkpoints.formats",
    "image_tiff": "records.image_tiff",
    "images": "records.images",
    "integrations": "training.integrations",
    "prediction_files": "inference.files",
    "predictions": "records.predictions",
    "record_collection": "records.collection",
    "record_components": "records.components",
    "run_config": "app.run_config",
    "run_options": "training.run_options",
    "run_splits": "training.run_splits",
    "runs": "app.runs",
    "size_check": "records.size_check",
    "small_boxes": "training.small_boxes",
    "splitters": "records.splitters",
    "start": "weights.start",
    "terminal": "base.terminal",
    "version_compat": "base.version_compat",
    "video": "inference.video",
    "visualize.notebook": "pictures.notebook",
    "weights.checkpoint": "checkpoints.checkpoint",
    "weights.export": "checkpoints.export",
    "weights.icevision": "model.icevision",
    "weights.transfer": "model.transfer",
    "writers": "parsers.writers",
}


class _Alias(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Finds an old path and loads it as the module at its new path."""

    def find_spec(self, fullname, path=None, target=None):
        if not fullname.startswith(PACKAGE + "."):
            return None
        new = MOVED.get(fullname[len(PACKAGE) + 1:])
        if new is None:
            return None
        return importlib.machinery.ModuleSpec(fullname, self, origin=f"{PACKAGE}.{new}")

    def create_module(self, spec) -> ModuleType:
        module = importlib.import_module(spec.origin)
        self._real_spec = module.__spec__
        return module

    def exec_module(self, module: ModuleType) -> None:
        module.__spec__ = self._real_spec  # the import system set the alias's spec: undo it


def install() -> None:
    """Put the hook in ``sys.meta_path`` (once)."""
    if not any(isinstance(f, _Alias) for f in sys.meta_path):
        sys.meta_path.insert(0, _Alias())  # before any finder that might still see an old file
