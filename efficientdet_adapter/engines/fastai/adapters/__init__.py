"""IceVision 0.12's ``icevision.engines.fastai.adapters``."""

from __future__ import annotations

from efficientdet_adapter.base.faces import FASTAI_ADAPTERS, not_offered
from efficientdet_adapter.engines.fastai import convert_dataloader_to_fastai, convert_dataloaders_to_fastai

__all__ = ["convert_dataloader_to_fastai", "convert_dataloaders_to_fastai"]

NOT_OFFERED: dict[str, str] = {
    **dict.fromkeys(['FastaiMetricAdapter'], FASTAI_ADAPTERS),
}
__getattr__ = not_offered(__name__, NOT_OFFERED)
