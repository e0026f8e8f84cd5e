"""The docstring examples that stand on their own run as doctests (the others show usage with
names such as ``train_records`` that only a real session has, and are marked or left out)."""

from __future__ import annotations

import doctest
import importlib

import pytest

SELF_CONTAINED = [
    "efficientdet_adapter.records.bbox",
    "efficientdet_adapter.records.class_map",
    "efficientdet_adapter.compat",
    "efficientdet_adapter.records.record",
    "efficientdet_adapter.records.splitters",
    "efficientdet_adapter.records.collection",
    "efficientdet_adapter.metrics",
    "efficientdet_adapter.parsers._paths",
    "efficientdet_adapter.parsers.base",
    "efficientdet_adapter.parsers.voc",
    "efficientdet_adapter.tfms",
    "efficientdet_adapter.model.backbones",
    "efficientdet_adapter.model.config",
    "efficientdet_adapter.model.model",
    "efficientdet_adapter.model.ops.targets",
    "efficientdet_adapter.model.ops.anchor_labels",
    "efficientdet_adapter.model.wrappers",
    "efficientdet_adapter.model.anchor_fit",
    "efficientdet_adapter.metrics.class_scores",
    "efficientdet_adapter.base.arguments",
    "efficientdet_adapter.training.resume_check",
    "efficientdet_adapter.app.runs",
    "efficientdet_adapter.weights.start",
    "efficientdet_adapter.model.transfer",
]


@pytest.mark.parametrize("name", SELF_CONTAINED)
def test_docstring_examples_run(name, capsys):
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0, f"{name} has no runnable example"
    assert result.failed == 0, capsys.readouterr().out[-3000:]
