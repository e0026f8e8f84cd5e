"""IceVision 0.12's ``icevision.utils.torch_utils``."""

from __future__ import annotations

from efficientdet_adapter.base.faces import INTERNAL, not_offered
import numpy as np
from torch import Tensor, nn

__all__ = ["to_np", "tensor_to_image", "requires_grad", "model_device", "params"]


def to_np(t: Tensor) -> np.ndarray:
    """A tensor as a numpy array (detached, on the CPU)."""
    return t.detach().cpu().numpy()


def tensor_to_image(t: Tensor) -> np.ndarray:
    """A CHW tensor as an HWC array."""
    return t.detach().cpu().numpy().transpose(1, 2, 0)


def requires_grad(model: nn.Module, layer: int) -> bool:
    """Whether the model's ``layer``-th parameter tensor (in ``parameters()`` order) trains."""
    return list(model.parameters())[layer].requires_grad


def model_device(model: nn.Module):
    """The device of the model's first parameter."""
    return next(iter(model.parameters())).device


def params(m: nn.Module) -> list:
    """The module's parameters as a list."""
    return list(m.parameters())

NOT_OFFERED: dict[str, str] = {
    **dict.fromkeys(['check_all_model_params_in_groups2'], INTERNAL),
}
__getattr__ = not_offered(__name__, NOT_OFFERED)
