"""IceVision 0.12's ``icevision.engines.fastai.learner.adapted_fastai_learner``: not offered."""

from __future__ import annotations

from efficientdet_adapter.base.faces import FASTAI_ADAPTERS, not_offered
__all__: list[str] = []

NOT_OFFERED: dict[str, str] = {
    **dict.fromkeys(['adapted_fastai_learner'], FASTAI_ADAPTERS),
}
__getattr__ = not_offered(__name__, NOT_OFFERED)
