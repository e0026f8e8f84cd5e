"""The training engines over one run core, and IceVision's ``engines`` package.

* [`steps`][efficientdet_adapter.loop.steps] and
  [`step_values`][efficientdet_adapter.loop.step_values]: the plain training/validation steps and
  the sync-free
  reading of per-step numbers, which both engines (and a hand-written loop) call;
* [`core`][efficientdet_adapter.engines.core]: the engine-agnostic run core (EMA, non-finite loss
  guard, epoch line, run
  checkpoint), written once;
* [`fastai`][efficientdet_adapter.engines.fastai] (``learn``, ``steps``, ``callbacks``, ``fit``) and
  `lightning`
  (``adapter``, ``callbacks``, ``fit``): each engine's thin shells over them. ``engines.fastai``
  is also IceVision's name: it converts loaders for fastai.
"""

from efficientdet_adapter.base.choices import ENGINES, Engine  # the word list lives with the others

__all__ = ["Engine", "ENGINES"]
