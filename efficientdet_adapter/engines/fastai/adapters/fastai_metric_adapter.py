"""IceVision 0.12's ``icevision.engines.fastai.adapters.fastai_metric_adapter``: not offered."""

from __future__ import annotations

from efficientdet_adapter.base.faces import FASTAI_ADAPTERS, not_offered
__all__: list[str] = []

NOT_OFFERED: dict[str, str] = {
    **dict.fromkeys(['FastaiMetricAdapter'], FASTAI_ADAPTERS),
}
__getattr__ = not_offered(__name__, NOT_OFFERED)
