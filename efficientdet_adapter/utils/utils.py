"""IceVision 0.12's ``icevision.utils.utils``: its small helpers, as IceVision wrote them."""

from __future__ import annotations

from efficientdet_adapter.base.faces import INTERNAL, MASKS, not_offered
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np

from efficientdet_adapter.compat import denormalize_imagenet, normalize_imagenet
from efficientdet_adapter.records.images import IMAGENET_MEAN, IMAGENET_STD
from efficientdet_adapter.base.errors import ArgumentError

__all__ = ["notnone", "ifnotnone", "last", "lmap", "allequal", "cleandict", "mergeds", "zipsafe",
           "np_local_seed", "pbar", "IMAGENET_STATS", "normalize", "denormalize",
           "normalize_imagenet", "denormalize_imagenet"]

#: ImageNet's ``(mean, std)``, RGB in [0, 1].
IMAGENET_STATS = (list(IMAGENET_MEAN), list(IMAGENET_STD))


def notnone(x: Any) -> bool:
    """``True`` unless ``x`` is ``None``."""
    return x is not None


def ifnotnone(x: Any, f: Callable[[Any], Any]) -> Any:
    """``f(x)``, or ``None`` when ``x`` is ``None``."""
    return f(x) if x is not None else x


def last(x: Any) -> Any:
    """The last item of a reversible sequence (``last([1, 2]) == 2``)."""
    return next(reversed(x))


def lmap(f: Callable[[Any], Any], xs: Iterable[Any] | None) -> list | None:
    """``list(map(f, xs))``, or ``None`` when ``xs`` is ``None``."""
    return list(map(f, xs)) if xs is not None else None


def allequal(values: list) -> bool:
    """Whether every item equals the first (``True`` for an empty list)."""
    return values.count(values[0]) == len(values) if values else True


def cleandict(d: dict) -> dict:
    """A copy of ``d`` without its ``None`` values."""
    return {k: v for k, v in d.items() if v is not None}


def mergeds(ds: Iterable[dict]) -> dict[Any, list]:
    """``[{"a": 1}, {"a": 2}]`` -> ``{"a": [1, 2]}``."""
    out: defaultdict = defaultdict(list)
    for d in ds:
        for k, v in d.items():
            out[k].append(v)
    return dict(out)


def zipsafe(*its: Any) -> Iterator[tuple]:
    """``zip`` of sequences that must have one length (``ValueError`` otherwise)."""
    if not allequal([len(it) for it in its]):
        raise ArgumentError(f"zipsafe: the sequences have different lengths {[len(i) for i in its]}")
    return zip(*its)


def pbar(iterable: Iterable, show: bool = True, total: int | None = None) -> Iterable:
    """``iterable`` wrapped in a tqdm progress bar, or as it is when ``show`` is false."""
    from efficientdet_adapter.base.version_compat import tqdm_class  # noqa: PLC0415

    return tqdm_class()(iterable, total=total) if show else iterable


@contextmanager
def np_local_seed(seed: int) -> Iterator[None]:
    """numpy's global random state seeded with ``seed`` inside the block, restored after."""
    state = np.random.get_state()
    np.random.seed(seed)
    try:
        yield
    finally:
        np.random.set_state(state)


def normalize(img: np.ndarray, mean: Any, std: Any, max_pixel_value: float = 255) -> np.ndarray:
    """``(img / max_pixel_value - mean) / std`` as float32 (an HWC image, per-channel stats)."""
    img = img.astype(np.float32) / max_pixel_value
    return (img - np.float32(mean)) / np.float32(std)


def denormalize(img: np.ndarray, mean: Any, std: Any, max_pixel_value: float = 255) -> np.ndarray:
    """The inverse of ``normalize``, rounded to uint8 (an HWC image, per-channel stats)."""
    return np.around((img * std + mean) * max_pixel_value).astype(np.uint8)

NOT_OFFERED: dict[str, str] = {
    **dict.fromkeys(['patch_class_to_main'], INTERNAL),
    **dict.fromkeys(['denormalize_mask'], MASKS),
}
__getattr__ = not_offered(__name__, NOT_OFFERED)
