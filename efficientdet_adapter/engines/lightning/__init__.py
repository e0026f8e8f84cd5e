"""IceVision 0.12's ``icevision.engines.lightning``: ``LightningModelAdapter``."""

from __future__ import annotations

from typing import Any

__all__ = ["LightningModelAdapter"]


def __getattr__(name: str) -> Any:
    if name == "LightningModelAdapter":
        from efficientdet_adapter.engines.lightning.lightning_model_adapter import __getattr__ as build  # noqa: PLC0415

        return build(name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
