"""IceVision 0.12's ``icevision.engines.fastai.adapters.convert_dataloader_to_fastai``."""

from __future__ import annotations

from efficientdet_adapter.engines.fastai import convert_dataloader_to_fastai, convert_dataloaders_to_fastai

__all__ = ["convert_dataloader_to_fastai", "convert_dataloaders_to_fastai"]
