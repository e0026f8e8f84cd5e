"""The training engines over one run core, and IceVision's ``engines`` package.

* [`steps`][efficientdet_adapter.engines.steps] and
  [`step_values`][efficientdet_adapter.engines.step_values]: the plain training/validation steps and
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

from typing import Literal, get_args

__all__ = ["Engine", "ENGINES"]

#: The training loops ``train --engine`` (``TrainOptions.engine``) chooses between: the
#: subpackages beside this file. The one list: argparse's choices and ``--resume``'s checks read it.
Engine = Literal["fastai", "lightning"]
ENGINES: tuple[str, ...] = get_args(Engine)
