"""IceVision 0.12's ``icevision.visualize.wandb_img``."""

from __future__ import annotations

from efficientdet_adapter.base.faces import INTERNAL, not_offered
from efficientdet_adapter.training.integrations import wandb_img_preds

__all__ = ["wandb_img_preds"]

NOT_OFFERED: dict[str, str] = {
    **dict.fromkeys(['wandb_image'], INTERNAL),
}
__getattr__ = not_offered(__name__, NOT_OFFERED)
