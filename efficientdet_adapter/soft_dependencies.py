"""IceVision 0.12's ``icevision.soft_dependencies``: which optional packages are installed."""

from __future__ import annotations

import importlib.util

__all__ = ["soft_import", "SoftDependencies"]


def soft_import(name: str) -> bool:
    """Whether the module ``name`` can be imported (it is not imported)."""
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):
        return False


class SoftDependencies:
    """IceVision's table of optional packages; `check` says which are installed."""

    fastai = soft_import("fastai")
    pytorch_lightning = soft_import("pytorch_lightning")
    albumentations = soft_import("albumentations")
    effdet = soft_import("effdet")
    wandb = soft_import("wandb")
    resnest = soft_import("resnest")
    sklearn = soft_import("sklearn")
    mmdet = soft_import("mmdet")
    yolov5 = soft_import("yolov5")
    sahi = soft_import("sahi")
    fiftyone = soft_import("fiftyone")

    @classmethod
    def check(cls) -> dict[str, bool]:
        """``package -> installed`` for each of IceVision's optional packages."""
        return {name: value for name, value in vars(cls).items() if isinstance(value, bool)}
