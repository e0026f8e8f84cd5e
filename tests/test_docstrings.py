"""The docstring examples that stand on their own run as doctests (the others show usage with
names such as ``train_records`` that only a real session has, and are marked or left out)."""

from __future__ import annotations

import doctest
import importlib

import pytest

SELF_CONTAINED = [
    "efficientdet_adapter.bbox",
    "efficientdet_adapter.class_map",
    "efficientdet_adapter.compat",
    "efficientdet_adapter.records",
    "efficientdet_adapter.splitters",
    "efficientdet_adapter.record_collection",
    "efficientdet_adapter.metrics",
    "efficientdet_adapter.parsers._paths",
    "efficientdet_adapter.parsers.base",
    "efficientdet_adapter.parsers.voc",
    "efficientdet_adapter.tfms",
    "efficientdet_adapter.efficientdet.backbones",
    "efficientdet_adapter.efficientdet.config",
    "efficientdet_adapter.efficientdet.model",
    "efficientdet_adapter.efficientdet._targets",
    "efficientdet_adapter.efficientdet.anchor_labels",
    "efficientdet_adapter.efficientdet.wrappers",
    "efficientdet_adapter.efficientdet.anchor_fit",
    "efficientdet_adapter.class_scores",
    "efficientdet_adapter.arguments",
    "efficientdet_adapter.training.resume_check",
    "efficientdet_adapter.runs",
    "efficientdet_adapter.start",
    "efficientdet_adapter.weights.transfer",
]


@pytest.mark.parametrize("name", SELF_CONTAINED)
def test_docstring_examples_run(name, capsys):
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0, f"{name} has no runnable example"
    assert result.failed == 0, capsys.readouterr().out[-3000:]
