"""IceVision 0.12's ``icevision.engines.fastai.imports`` (it had no public names of its own)."""

from __future__ import annotations

__all__: list[str] = []
