"""Find the model inside its wrappers: the one home of that walk.

Engines wrap the model: Lightning's ``ModelAdapter`` holds it as ``.model``, DDP as
``.module``, and the bench itself holds the bare effdet network as ``.model``. Everything that
needs the bench (prediction, export) or the bare network (checkpoints, parameter groups,
training callbacks) asks here.

Example:
    >>> import torch
    >>> find_network(torch.nn.Linear(2, 2))  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    efficientdet_adapter.base.errors.NotAModelError: cannot find an EfficientDet network in Linear...
"""

from __future__ import annotations

from torch import nn

from efficientdet_adapter.base.errors import NotAModelError

__all__ = ["find_bench", "find_network", "BenchType"]

_MAX_DEPTH = 6


class BenchType:
    """What [`find_bench`][efficientdet_adapter.model.wrappers.find_bench] looks for:
    ``EfficientDetModel`` derives from it (this module sits
    below the model, so it names the type without importing it)."""


def _inner(node: nn.Module) -> nn.Module | None:
    inner = getattr(node, "module", None)  # DDP, DataParallel
    if not isinstance(inner, nn.Module):
        inner = getattr(node, "model", None)  # Lightning adapter, effdet bench
    return inner if isinstance(inner, nn.Module) else None


def _find(model: nn.Module, kind: type) -> nn.Module | None:
    node: nn.Module | None = model
    for _ in range(_MAX_DEPTH):
        if node is None or isinstance(node, kind):
            return node
        node = _inner(node)
    return None


def find_network(model: nn.Module) -> nn.Module:
    """The bare effdet ``EfficientDet`` (backbone, fpn, class_net, box_net) inside ``model``.

    Raises:
        NotAModelError: no EfficientDet inside (the message names what was given).
    """
    from effdet import EfficientDet  # noqa: PLC0415

    found = _find(model, EfficientDet)
    if found is None:
        raise NotAModelError(
            f"cannot find an EfficientDet network in {type(model).__name__}; pass the model that "
            "efficientdet.model(...) or model_from_checkpoint(...) returned (or a wrapper of it)"
        )
    return found


def find_bench(model: nn.Module) -> nn.Module:
    """The ``EfficientDetModel`` (the bench with anchors, loss and post-processing) in ``model``.

    Raises:
        NotAModelError: no bench inside (a bare network has no anchors or post-processing).
    """
    found = _find(model, BenchType)
    if found is None:
        raise NotAModelError(
            f"expected the model from efficientdet.model(...) or model_from_checkpoint(...) (or a "
            f"wrapper of it), got {type(model).__name__}"
        )
    return found
