"""Model configuration and names: which EfficientDet, for how many classes, at what size.

[`ModelConfig`][efficientdet_adapter.model.config.ModelConfig] is all a checkpoint needs to
rebuild a model (weights aside); this module
checks it and turns it into effdet's own (OmegaConf) config
([`effdet_config`][efficientdet_adapter.model.config.effdet_config]). It builds no
network: [`model`][efficientdet_adapter.model.model.model] holds the model and its factory,
    and re-exports these names.

Example:
    >>> config = ModelConfig("tf_efficientdet_lite0", num_classes=3, img_size=256)
    >>> config.num_foreground, effdet_config(config).image_size
    (2, (256, 256))
"""

from __future__ import annotations

import difflib
import fnmatch
import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from numbers import Integral
from typing import Any

from effdet.anchors import get_feat_sizes
from effdet.config import get_efficientdet_config
from effdet.config.model_config import efficientdet_model_param_dict

from efficientdet_adapter.base.errors import ModelConfigError
from efficientdet_adapter.records.images import IMAGENET_MEAN, IMAGENET_STD
from efficientdet_adapter.records.record import IMG_STRIDE, MAX_IMG_SIZE, normalize_img_size  # re-exported: one home
from efficientdet_adapter.model.ops.targets import num_foreground

__all__ = [
    "ModelConfigError",
    "ModelConfig",
    "list_models",
    "mean_std",
    "default_img_size",
    "effdet_config",
    "normalize_img_size",
    "MAX_IMG_SIZE",
    "IMG_STRIDE",
]

NET_KWARGS = ("alternate_init",)  # EfficientDet(...) arguments; everything else is a config key
_FIXED_KEYS = ("name", "num_classes", "image_size", "num_levels", "url")


# --- names --------------------------------------------------------------------------------------
def list_models(pattern: str | None = None) -> list[str]:
    """effdet's config names, sorted, optionally filtered by a shell pattern.

    Example:
        >>> list_models("tf_efficientdet_lite*")[:2]
        ['tf_efficientdet_lite0', 'tf_efficientdet_lite1']
    """
    names = sorted(efficientdet_model_param_dict)
    return names if pattern is None else fnmatch.filter(names, pattern)


def check_model_name(model_name: Any) -> str:
    if isinstance(model_name, str) and model_name in efficientdet_model_param_dict:
        return model_name
    close = difflib.get_close_matches(str(model_name), list_models(), n=5, cutoff=0.5)
    hint = f"did you mean {', '.join(close)}? " if close else ""
    raise ModelConfigError(
        f"unknown EfficientDet model_name {model_name!r}: {hint}efficientdet.list_models() "
        f"lists all {len(efficientdet_model_param_dict)} (e.g. 'tf_efficientdet_lite0', "
        "'tf_efficientdet_d0', 'efficientdet_d0')"
    )


def mean_std(model_name: str) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """The input normalization of ``model_name``'s pretrained weights (RGB in [0, 1]).

    The TF-ported lite and AdvProp (``_ap``) models use mean = std = 0.5; every other config uses
    ImageNet's statistics (what effdet's own training scripts resolve).
    """
    params = efficientdet_model_param_dict[check_model_name(model_name)]
    mean = tuple(float(v) for v in params.get("mean", IMAGENET_MEAN))
    std = tuple(float(v) for v in params.get("std", IMAGENET_STD))
    return mean, std


def default_img_size(model_name: str, max_level: int | None = None) -> tuple[int, int]:
    """effdet's ``(height, width)`` for ``model_name``, each side rounded up to a multiple of the
    stride ``2**max_level`` (the config's ``max_level`` by default): the size `model` uses
    when none is given.

    Example:
        >>> default_img_size("tf_efficientdet_lite0"), default_img_size("tf_efficientdet_d0")
        ((384, 384), (512, 512))
    """
    base = get_efficientdet_config(check_model_name(model_name))
    stride = 2 ** int(base.max_level if max_level is None else max_level)
    return tuple(math.ceil(s / stride) * stride for s in base.image_size)


# --- config -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ModelConfig:
    """Everything needed to rebuild an `EfficientDetModel` (weights aside).

    Attributes:
        model_name: an effdet config name
            ([`list_models`][efficientdet_adapter.model.config.list_models]).
        num_classes: number of classes *including* the background (``len(class_map)``).
        img_size: ``(height, width)`` of the model's input; an int means a square.
        mean: RGB normalization mean (default:
            [`mean_std`][efficientdet_adapter.model.config.mean_std] of the model).
        std: RGB normalization std (default:
            [`mean_std`][efficientdet_adapter.model.config.mean_std] of the model).
        effdet_kwargs: effdet config overrides (``max_det_per_image``, ``soft_nms``, ...).

    Example:
        >>> ModelConfig("tf_efficientdet_lite0", num_classes=3, img_size=384).img_size
        (384, 384)
    """

    model_name: str
    num_classes: int
    img_size: tuple[int, int]
    mean: tuple[float, float, float] | None = None
    std: tuple[float, float, float] | None = None
    effdet_kwargs: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        name = check_model_name(self.model_name)
        if (
            not isinstance(self.num_classes, Integral)
            or isinstance(self.num_classes, bool)
            or self.num_classes < 2
        ):
            raise ModelConfigError(
                f"num_classes={self.num_classes!r} for {name}: num_classes counts the background "
                "class (pass len(class_map)), so it must be an int >= 2 (one foreground class "
                "or more)"
            )
        kwargs = dict(self.effdet_kwargs)
        _check_effdet_kwargs(name, kwargs)
        base = get_efficientdet_config(name)
        stride = 2 ** int(kwargs.get("max_level", base.max_level))
        given = normalize_img_size(self.img_size, stride=stride, max_side=None,
                                   where=f"model {name}")
        size = (given.height, given.width)
        default_mean, default_std = mean_std(name)
        mean = tuple(float(v) for v in (self.mean if self.mean is not None else default_mean))
        std = tuple(float(v) for v in (self.std if self.std is not None else default_std))
        if len(mean) != 3 or len(std) != 3 or min(std) <= 0:
            raise ModelConfigError(f"mean and std need 3 values, std > 0; got {mean}, {std}")
        for attr, value in [("model_name", name), ("num_classes", int(self.num_classes)),
                            ("img_size", size), ("mean", mean), ("std", std),
                            ("effdet_kwargs", kwargs)]:
            object.__setattr__(self, attr, value)

    __hash__ = None  # effdet_kwargs is a dict

    @property
    def num_foreground(self) -> int:
        """Classes the effdet net predicts (``num_classes - 1``)."""
        return num_foreground(self.num_classes)

    def to_dict(self) -> dict[str, Any]:
        """Plain data (JSON-safe when ``effdet_kwargs`` is) for checkpoints."""
        data = asdict(self)
        data.update(img_size=list(self.img_size), mean=list(self.mean), std=list(self.std))
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "ModelConfig":
        """Inverse of [`to_dict`][efficientdet_adapter.model.config.ModelConfig.to_dict]."""
        required = ("model_name", "num_classes", "img_size")
        missing = [k for k in required if k not in data]
        if missing:
            raise ModelConfigError(f"model config dict lacks {missing}: {dict(data)!r}")
        img_size = data["img_size"]
        return cls(
            model_name=data["model_name"],
            num_classes=data["num_classes"],
            img_size=tuple(img_size) if isinstance(img_size, list) else img_size,
            mean=tuple(data["mean"]) if data.get("mean") is not None else None,
            std=tuple(data["std"]) if data.get("std") is not None else None,
            effdet_kwargs=dict(data.get("effdet_kwargs") or {}),
        )


def _check_effdet_kwargs(model_name: str, kwargs: dict[str, Any]) -> None:
    known = set(get_efficientdet_config(model_name)) - set(_FIXED_KEYS)
    for key in kwargs:
        if key == "image_size":
            raise ModelConfigError("pass the input size as img_size=..., not image_size")
        if key in _FIXED_KEYS:
            raise ModelConfigError(f"effdet setting {key!r} is set by efficientdet.model itself")
        if key not in known and key not in NET_KWARGS:
            close = difflib.get_close_matches(key, sorted(known | set(NET_KWARGS)), n=3)
            hint = f" (did you mean {', '.join(close)}?)" if close else ""
            raise ModelConfigError(
                f"unknown effdet setting {key!r} for {model_name}{hint}; valid keys: "
                f"{', '.join(sorted(known | set(NET_KWARGS)))}"
            )


def _num_anchors(cfg: Any) -> int:
    sizes = get_feat_sizes(tuple(cfg.image_size), cfg.max_level)
    per_location = cfg.num_scales * len(cfg.aspect_ratios)
    return sum(h * w for h, w in sizes[cfg.min_level : cfg.max_level + 1]) * per_location


def effdet_config(config: ModelConfig) -> Any:
    """effdet's (OmegaConf) config for ``config``: overrides, foreground classes, ``(H, W)`` size.

    ``max_detection_points`` (the top-k before NMS, 5000 by default) is lowered to the number of
    anchor-class scores when a small image and few classes have fewer, where effdet would fail.
    """
    cfg = get_efficientdet_config(config.model_name)
    for key, value in config.effdet_kwargs.items():
        if key not in NET_KWARGS:
            cfg[key] = value
    cfg.num_classes = config.num_foreground
    cfg.image_size = tuple(config.img_size)
    cfg.num_levels = cfg.max_level - cfg.min_level + 1
    scores = _num_anchors(cfg) * cfg.num_classes
    cfg.max_detection_points = min(int(cfg.max_detection_points), scores)
    return cfg
