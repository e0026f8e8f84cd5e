"""albumentations transforms for detection records, used as ``tfms.A.*`` (IceVision's names).

- [`Adapter`][efficientdet_adapter.tfms.albumentations_adapter.Adapter] turns a list of
  albumentations transforms into ``record -> transformed copy``.
- [`aug_tfms`][efficientdet_adapter.tfms.albumentations_adapter.aug_tfms],
  [`resize_and_pad`][efficientdet_adapter.tfms.albumentations_adapter.resize_and_pad],
  [`resize`][efficientdet_adapter.tfms.albumentations_adapter.resize] build IceVision's standard
  lists.
- [`Normalize`][efficientdet_adapter.tfms.albumentations_adapter.Normalize] is a fast drop-in for
  ``albumentations.Normalize`` (one table lookup).
- The Adapter records on each sample it returns the resize and padding it applied
  (``sample.geometry``, a [`Geometry`][efficientdet_adapter.records.record.Geometry], read from what
  albumentations reports it did), to map predicted boxes back onto the original image;
  [`geometry`][efficientdet_adapter.tfms.albumentations_adapter.geometry] gives that record for an
  image size without a real image.
- Any other name (``tfms.A.HorizontalFlip``, ``tfms.A.Blur``, ...) is albumentations' own class,
  reached through a module ``__getattr__``, so IceVision code keeps working unchanged.

Sizes are ``int`` (a square) or ``(height, width)``, as everywhere else in this library and in
effdet. Note: IceVision read a tuple as ``(width, height)``.

albumentations 2 pitfalls handled here: ``PadIfNeeded`` ignores ``value=`` (the colour is
``fill=``; a ``value=`` given to
[`aug_tfms`][efficientdet_adapter.tfms.albumentations_adapter.aug_tfms] raises), label fields come
back as floats (the
Adapter tracks boxes by index and returns the record's own ints), and the geometric transforms use
a constant border (a reflect border would add mirrored copies of boxes).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence

import cv2
import numpy as np

from efficientdet_adapter.base.choices import AUG_PRESETS as _AUG_PRESETS
from efficientdet_adapter.base.errors import ArgumentError, UsageError
from efficientdet_adapter.base.version_compat import import_quietly
from efficientdet_adapter.tfms._scale import RandomScale
from efficientdet_adapter.records.images import IMAGENET_MEAN, IMAGENET_STD
from efficientdet_adapter.records.record import Geometry, normalize_img_size
from efficientdet_adapter.tfms.adapter import Adapter, geometry  # the adapter has its own module

# albumentations imports huggingface_hub, whose tqdm.auto warns "IProgress not found" into a
# notebook without ipywidgets (version_compat.IMPORT_NOTICES)
_albu = import_quietly("albumentations")

__all__ = [
    "Adapter",
    "DEFAULT_PAD_COLOR",
    "Geometry",
    "IMAGENET_MEAN",
    "IMAGENET_STD",
    "Normalize",
    "AUG_PRESETS",
    "aug_preset",
    "aug_tfms",
    "geometry",
    "resize",
    "resize_and_pad",
]

DEFAULT_PAD_COLOR: tuple[int, int, int] = (124, 116, 104)  # IceVision's padding colour (RGB)

Size = int | tuple[int, int]


class _Default:
    """Marks an [`aug_tfms`][efficientdet_adapter.tfms.albumentations_adapter.aug_tfms] part left at
    IceVision's default (``None`` switches it off)."""

    def __repr__(self) -> str:
        return "DEFAULT"


DEFAULT = _Default()


def __getattr__(name: str):
    """Fall back to albumentations for every other name: ``tfms.A.HorizontalFlip()`` works
    (IceVision's ``Albumentations*Component`` names: from their face, on first use)."""
    if name.startswith("Albumentations") and name.endswith("Component"):
        from importlib import import_module  # noqa: PLC0415
        return getattr(import_module(".albumentations.albumentations_adapter", __package__), name)
    try:
        return getattr(_albu, name)
    except AttributeError:
        raise AttributeError(
            f"neither efficientdet_adapter.tfms.A nor albumentations has {name!r}"
        ) from None


def _hw(size: Size) -> tuple[int, int]:
    """``(height, width)`` of a transform's ``size``
    ([`normalize_img_size`][efficientdet_adapter.records.record.normalize_img_size])."""
    hw = normalize_img_size(size, where="transform size", max_side=None, error=UsageError)
    return hw.height, hw.width


# -- Normalize ------------------------------------------------------------------------------
class Normalize(_albu.Normalize):
    """``(img / max_pixel_value - mean) / std`` as float32: an ``albumentations.Normalize``
    (IceVision's code looks it up by that class) with a faster ``apply``.

    On uint8 images it is a single per-channel table lookup (``cv2.LUT`` from a 256-entry float32
    table): about twice as fast as albumentations' version, same values to 1e-6.

    Example:
        >>> n = Normalize(mean=(0.5, 0.5, 0.5), std=(0.5, 0.5, 0.5))
        >>> n(image=np.full((2, 2, 3), 255, np.uint8))["image"][0, 0].tolist()
        [1.0, 1.0, 1.0]
    """

    def __init__(
        self,
        mean: Sequence[float] = IMAGENET_MEAN,
        std: Sequence[float] = IMAGENET_STD,
        max_pixel_value: float = 255.0,
        p: float = 1.0,
    ):
        super().__init__(mean=mean, std=std, max_pixel_value=max_pixel_value, p=p)
        self.mean = tuple(float(m) for m in np.broadcast_to(mean, 3))
        self.std = tuple(float(s) for s in np.broadcast_to(std, 3))
        self.max_pixel_value = float(max_pixel_value)
        levels = np.arange(256, dtype=np.float64)[:, None] / self.max_pixel_value
        table = (levels - np.array(self.mean)) / np.array(self.std)
        self._table = table.astype(np.float32).reshape(256, 1, 3)

    def apply(self, img: np.ndarray, **params) -> np.ndarray:
        if img.dtype == np.uint8 and img.ndim == 3 and img.shape[2] == 3:
            return cv2.LUT(img, self._table)
        scaled = img.astype(np.float32) / self.max_pixel_value
        return (scaled - np.float32(self.mean)) / np.float32(self.std)

    def get_transform_init_args_names(self) -> tuple[str, ...]:
        return ("mean", "std", "max_pixel_value")


# -- recipes --------------------------------------------------------------------------------
def resize(size: Size, ratio_resize: type = _albu.LongestMaxSize) -> _albu.DualTransform:
    """Resize keeping the aspect ratio: the longest side to ``size`` (``ratio_resize``'s rule).

    A ``(height, width)`` size fits the image inside that box (aspect ratio kept).
    """
    if isinstance(size, int):
        return ratio_resize(max_size=size)
    return ratio_resize(max_size_hw=_hw(size))


def _pad(
    size: Size | None = None,
    color: Sequence[int] = DEFAULT_PAD_COLOR,
    *,
    min_height: int | None = None,
    min_width: int | None = None,
) -> _albu.PadIfNeeded:
    height, width = _hw(size) if size is not None else (min_height, min_width)
    return _albu.PadIfNeeded(
        min_height=height,
        min_width=width,
        border_mode=cv2.BORDER_CONSTANT,
        fill=tuple(int(c) for c in color),
    )


def resize_and_pad(size: Size, pad_color: Sequence[int] = DEFAULT_PAD_COLOR) -> list:
    """Longest side to ``size``, then pad (centred, ``pad_color``) to exactly ``size``.

    The usual validation and inference pipeline: deterministic, so
        [`geometry`][efficientdet_adapter.tfms.albumentations_adapter.geometry] can invert
    it. ``size`` is ``int`` (a square) or ``(height, width)``.

    Example:
        >>> valid_tfm = Adapter([*resize_and_pad(384), Normalize()])
    """
    return [resize(size), _pad(size, pad_color)]


def aug_tfms(
    size: Size,
    presize: Size | None = None,
    *,
    horizontal_flip: _albu.BasicTransform | None | _Default = DEFAULT,
    shift_scale_rotate: _albu.BasicTransform | None | _Default = DEFAULT,
    rgb_shift: _albu.BasicTransform | None | _Default = DEFAULT,
    lightning: _albu.BasicTransform | None | _Default = DEFAULT,
    blur: _albu.BasicTransform | None | _Default = DEFAULT,
    crop_fn: Callable[..., _albu.BasicTransform] | None | _Default = DEFAULT,
    pad: Callable[..., _albu.BasicTransform] | None | _Default = DEFAULT,
    pad_color: Sequence[int] = DEFAULT_PAD_COLOR,
) -> list:
    """IceVision's default training augmentations, on albumentations 2.

    Same parts and parameters as IceVision's ``aug_tfms``; set any part to ``None`` to drop it:
    presize (shortest side to ``presize``), a random bbox-safe crop to ``size`` (half of the
    time; otherwise resize the longest side to ``size``), horizontal flip, shift-scale-rotate
    (+-6.25% shift, +-10% scale, +-15 degrees, constant border in ``pad_color``), RGB shift
    (+-10), brightness/contrast (+-0.2), blur (3 px, a quarter of the time), pad to ``size`` in ``pad_color``.

    One deliberate change: the crop/resize to ``size`` runs first instead of last, so the flip,
    rotation, colour and blur work on the final, smaller image (fewer pixels; the saving is in
    docs/benchmarks.md). Colour changes are per pixel and commute with the
    geometry; the blur kernel is now relative to the final size. With nothing left between
    presizing and the crop, an ``int`` presize would only add a second resampling (the crop
    region is chosen in relative coordinates), so it is skipped: same picture, one resize less.

    Args:
        size: final size, ``int`` (square) or ``(height, width)``.
        presize: IceVision's presizing (shortest side to ``presize``); accepted for
            compatibility, see above. A ``(height, width)`` presize resizes to exactly that first.
        crop_fn: factory called as ``crop_fn(height=..., width=...)``.
        pad: factory called as ``pad(min_height=..., min_width=...)``; default pads with
            ``pad_color``. albumentations 2 ignores ``value=``: give ``fill=`` instead.

    Example:
        >>> train_tfms = Adapter([*aug_tfms(size=384, presize=512), Normalize()])
    """
    height, width = _hw(size)
    color = tuple(int(c) for c in pad_color)
    defaults = {  # built per call: albumentations transforms carry their own random state
        "horizontal_flip": lambda: _albu.HorizontalFlip(p=0.5),
        "shift_scale_rotate": lambda: _albu.Affine(  # ShiftScaleRotate(rotate_limit=15) in 2.x
            translate_percent=(-0.0625, 0.0625),
            scale=(0.9, 1.1),
            keep_ratio=True,
            rotate=(-15, 15),
            border_mode=cv2.BORDER_CONSTANT,
            fill=color,
            p=0.5,
        ),
        "rgb_shift": lambda: _albu.RGBShift(r_shift_limit=10, g_shift_limit=10, b_shift_limit=10),
        "lightning": lambda: _albu.RandomBrightnessContrast(),
        # IceVision's Blur(blur_limit=(1, 3)), p=0.5, drew a kernel of 1 (no blur) or 3; albumentations
        # 2 turns (1, 3) into (3, 3) with a warning: same distribution, stated directly
        "blur": lambda: _albu.Blur(blur_limit=(3, 3), p=0.25),
        "crop_fn": lambda: functools.partial(_albu.RandomSizedBBoxSafeCrop, p=0.5),
        "pad": lambda: functools.partial(_pad, color=color),
    }
    given = {
        "horizontal_flip": horizontal_flip,
        "shift_scale_rotate": shift_scale_rotate,
        "rgb_shift": rgb_shift,
        "lightning": lightning,
        "blur": blur,
        "crop_fn": crop_fn,
        "pad": pad,
    }
    part = {k: defaults[k]() if v is DEFAULT else v for k, v in given.items()}
    tfms: list = []
    # An int presize only rescales (aspect kept), and the crop/resize to `size` that follows picks
    # its region in relative coordinates: presizing first would give the same picture through
    # two resamplings instead of one (and cost ~1 ms), so it is skipped. A (height, width)
    # presize changes the aspect ratio and is kept.
    if presize is not None and not isinstance(presize, int):
        tfms.append(_albu.Resize(*_hw(presize)))
    if part["crop_fn"] is not None:
        crop = part["crop_fn"](height=height, width=width)
        tfms.append(_albu.OneOrOther(crop, resize(size), p=crop.p))
    else:
        tfms.append(resize(size))
    tfms += [part[k] for k in ("horizontal_flip", "shift_scale_rotate", "rgb_shift", "lightning")]
    tfms.append(part["blur"])
    if part["pad"] is not None:
        keywords = getattr(part["pad"], "keywords", {}) or {}
        if "value" in keywords:
            raise ArgumentError(
                "aug_tfms(pad=...): albumentations 2 ignores `value=` (padding would be black); "
                "use `fill=` instead, or the `pad_color=` argument"
            )
        tfms.append(part["pad"](min_height=height, min_width=width))
    return [t for t in tfms if t is not None]


#: The names ``aug_preset`` (and the command line's ``--aug``) take: one tuple, kept in the
#: light ``efficientdet_adapter.base.choices`` so that the command line reads it without albumentations.
AUG_PRESETS = _AUG_PRESETS

#: ``scale``'s range of the image's size before its random crop (EfficientDet's own training
#: jitters 0.1-2.0 over hundreds of epochs; a narrower band suits runs of minutes).
SCALE_JITTER = (0.5, 1.5)


def aug_preset(size: Size, aug: str = "full") -> list:
    """A training transform before normalization, by name.

    ``full``: [`aug_tfms`][efficientdet_adapter.tfms.albumentations_adapter.aug_tfms] (IceVision's);
    ``flip``: [`resize_and_pad`][efficientdet_adapter.tfms.albumentations_adapter.resize_and_pad]
    and a horizontal
    flip (learns faster in short runs); ``scale``: scale jitter, EfficientDet's own training
    augmentation (the longest side to ``size`` times a factor drawn from `SCALE_JITTER`,
    padded, a random ``size`` crop, a horizontal flip); ``none``:
    [`resize_and_pad`][efficientdet_adapter.tfms.albumentations_adapter.resize_and_pad].

    Example:
        >>> len(aug_preset(256, "flip"))
        3
    """
    if aug == "full":
        return aug_tfms(size)
    if aug == "flip":
        return [*resize_and_pad(size), _albu.HorizontalFlip(p=0.5)]
    if aug == "scale":
        height, width = _hw(size)
        low, high = SCALE_JITTER
        return [resize(size), RandomScale(scale_limit=(low - 1, high - 1), p=1.0),
                _pad(min_height=height, min_width=width), _albu.RandomCrop(height, width),
                _albu.HorizontalFlip(p=0.5)]
    if aug == "none":
        return resize_and_pad(size)
    raise UsageError(f"--aug {aug!r}: choose one of {', '.join(AUG_PRESETS)}")


# -- the adapter ----------------------------------------------------------------------------
