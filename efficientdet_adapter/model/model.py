"""``efficientdet.model``: build an EfficientDet (effdet 0.4.1) wrapped in its training bench.

Two call forms build the same thing::

    >>> from efficientdet_adapter.efficientdet import backbones, model
    >>> m = model(model_name="tf_efficientdet_lite0", num_classes=3, img_size=256)
    >>> m = model(backbones.tf_lite0(pretrained=False), num_classes=3, img_size=256)
    >>> m.config.num_classes, m.config.img_size, m.config.mean
    (3, (256, 256), (0.5, 0.5, 0.5))

``num_classes`` counts the background (pass ``len(class_map)``), so effdet's net gets
``num_classes - 1`` class outputs. The returned
[`EfficientDetModel`][efficientdet_adapter.model.model.EfficientDetModel] *is* effdet's
``DetBenchTrain`` (anchor labeler on), with a
[`ModelConfig`][efficientdet_adapter.model.config.ModelConfig] in ``.config`` that is all a
checkpoint needs to rebuild it
([`EfficientDetModel.from_config`][efficientdet_adapter.model.model.EfficientDetModel.from_config]).

Tensor contract (see ``_targets.py``): ``model(images, targets)`` with ``images`` float32
``[B, 3, H, W]`` normalized with ``config.mean/std``, ``targets["bbox"]`` a list of ``[N, 4]`` yxyx
pixel boxes and ``targets["cls"]`` a list of ``[N]`` 1-based class ids returns
``{"loss", "class_loss", "box_loss"}``; in eval mode also ``"detections"`` ``[B, K, 6]``
(x1, y1, x2, y2, score, cls), scaled/clipped by ``targets["img_scale"]``/``["img_size"]`` when
present. Targets that already hold effdet's anchor labels (``label_num_positives``,
``label_cls_<l>``, ``label_bbox_<l>``, e.g. computed in DataLoader workers with
[`anchor_labeler`][efficientdet_adapter.model.model.anchor_labeler]) are used as they are
instead of being labeled again.

Labels and detections are effdet's, computed for the whole batch at once on the model's device
(`anchor_labels`, `postprocess`; bit-identical to effdet's per-image loops).

This module holds the model and its factory; the configuration and the names
([`ModelConfig`][efficientdet_adapter.model.config.ModelConfig],
[`list_models`][efficientdet_adapter.model.config.list_models],
[`mean_std`][efficientdet_adapter.model.config.mean_std],
[`effdet_config`][efficientdet_adapter.model.config.effdet_config]) live in
[`config`][efficientdet_adapter.model.config] and are re-exported here.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterator, Mapping
from os import PathLike
from typing import Any, Union

import torch
from effdet import DetBenchTrain, EfficientDet
from effdet.anchors import AnchorLabeler, Anchors
from effdet.bench import _batch_detection, _post_process, unwrap_bench
from torch import Tensor, nn

from efficientdet_adapter.records.images import IMAGENET_MEAN, IMAGENET_STD
from efficientdet_adapter.base.errors import BatchError, ModelConfigError, NotAModelError
from efficientdet_adapter.base.version_compat import register_load_state_dict_pre_hook
from efficientdet_adapter.model.ops.anchor_labels import label_anchors
from efficientdet_adapter.model.backbones import BackboneSpec
from efficientdet_adapter.model.config import (
    NET_KWARGS,
    ModelConfig,
    default_img_size,
    effdet_config,
    list_models,
    mean_std,
)
from efficientdet_adapter.model.ops.postprocess import detections as batched_detections
from efficientdet_adapter.model.resize import anchors_not_saved, set_img_size
from efficientdet_adapter.records.class_map import ClassMap
from efficientdet_adapter.weights.start import Start
from efficientdet_adapter.weights.loading import WeightsReport, load_backbone_weights, load_detector_weights
from efficientdet_adapter.model.transfer import load_start
from efficientdet_adapter.model.wrappers import BenchType, find_network

__all__ = [
    "ModelConfigError",
    "ModelConfig",
    "EfficientDetModel",
    "model",
    "list_models",
    "mean_std",
    "normalize_tfm",
    "param_groups",
    "effdet_config",
    "anchor_labeler",
    "IMAGENET_MEAN",
    "IMAGENET_STD",
]

logger = logging.getLogger(__name__)

Weights = Union[bool, str, PathLike, None]


# --- the model ----------------------------------------------------------------------------------
def _ignore_saved_anchors(module, state_dict, prefix, *args) -> None:
    """Files from before
    [`anchors_not_saved`][efficientdet_adapter.model.resize.anchors_not_saved] (or from
    effdet's bench) hold anchor boxes,
    possibly for another size: drop them, the model has its own."""
    state_dict.pop(f"{prefix}anchors.boxes", None)


class EfficientDetModel(DetBenchTrain, BenchType):
    """effdet's ``DetBenchTrain`` (labeler on) with a
    [`ModelConfig`][efficientdet_adapter.model.config.ModelConfig] in ``.config``.

    Attributes:
        model: the bare ``effdet.EfficientDet`` network (backbone, fpn, class_net, box_net).
        config: the [`ModelConfig`][efficientdet_adapter.model.config.ModelConfig] it was
            built from.
        effdet_config: effdet's own (OmegaConf) config of the network.
        weights: one [`WeightsReport`][efficientdet_adapter.weights.loading.WeightsReport] per
            pretrained load.
        start: the [`Start`][efficientdet_adapter.weights.start.Start] of a model built with
            ``weights=`` (``None`` otherwise).
    """

    start: Start | None = None

    def __init__(self, net: EfficientDet, config: ModelConfig):
        super().__init__(net, create_labeler=True)
        anchors_not_saved(self.anchors)
        register_load_state_dict_pre_hook(self, _ignore_saved_anchors)
        self.effdet_config = net.config
        self.config = config  # replaces the bench's copy of effdet's config (kept above)
        self.weights: tuple[WeightsReport, ...] = ()
        self._size_open = True  # the next training batch may set the input size (see train)

    def train(self, mode: bool = True) -> "EfficientDetModel":
        """Set training mode; entering it opens the input size for the next training batch.

        fastai and Lightning call ``model.train()`` at the start of each training epoch, so
        IceVision's progressive resizing (``learn.dls = new_dls; learn.fine_tune(...)``) works:
        the first batch of the next epoch sets the size. Within an epoch the size stays.
        """
        if mode:
            self._size_open = True
        return super().train(mode)

    @classmethod
    def from_config(
        cls,
        config: ModelConfig,
        *,
        pretrained: Weights = False,
        pretrained_backbone: Weights = False,
        weights: Weights = None,
        classes: list[str] | None = None,
    ) -> "EfficientDetModel":
        """Build the model of ``config``, then load pretrained weights (see
        [`model`][efficientdet_adapter.model.model.model];
        ``classes``: the foreground class names, for ``weights=`` a checkpoint)."""
        net_kwargs = {k: v for k, v in config.effdet_kwargs.items() if k in NET_KWARGS}
        net = EfficientDet(effdet_config(config), pretrained_backbone=False, **net_kwargs)
        reports, start = [], None
        if weights is not None:
            if pretrained not in (None, False):
                raise ModelConfigError(f"pretrained={pretrained!r} and weights={weights!r}: give "
                                       "one (weights='coco' is pretrained=True)")
            start, report = load_start(net, weights, pretrained_backbone=pretrained_backbone,
                                       classes=classes)
            reports.append(report)
            logger.info(start.line())
        elif pretrained not in (None, False):
            if pretrained_backbone not in (None, False):
                logger.info("pretrained detector weights given: pretrained_backbone is not loaded")
            reports.append(load_detector_weights(net, pretrained))
        elif pretrained_backbone not in (None, False):
            reports.append(load_backbone_weights(net, pretrained_backbone))
        bench = cls(net, config)
        bench.weights = tuple(r for r in reports if r is not None)
        bench.start = start
        return bench

    def forward(self, images: Tensor, targets: Mapping[str, Any]) -> dict[str, Tensor]:
        """Losses (and, in eval mode, detections) for a batch; see the module docstring."""
        with self._at_size(images):
            return self._forward(images, targets)

    def _forward(self, images: Tensor, targets: Mapping[str, Any]) -> dict[str, Tensor]:
        cls_targets, box_targets, num_positives = self._anchor_targets(targets)  # checks first
        class_out, box_out = self.model(images)
        loss, class_loss, box_loss = self.loss_fn(
            class_out, box_out, cls_targets, box_targets, num_positives
        )
        output = {"loss": loss, "class_loss": class_loss, "box_loss": box_loss}
        if not self.training:
            img_scale, img_size = targets.get("img_scale"), targets.get("img_size")
            output["detections"] = self._detections(
                images.shape[0], class_out, box_out, img_scale, img_size
            )
        return output

    @torch.no_grad()
    def detect(
        self, images: Tensor, img_size: Tensor | None = None, img_scale: Tensor | None = None
    ) -> Tensor:
        """Detections ``[B, K, 6]`` (x1, y1, x2, y2, score, cls) without targets or losses.

        Runs in the current mode (call ``model.eval()`` first for inference). The bench-level
        call, with effdet's image info given by the caller (``img_size`` ``[B, 2]`` (W, H),
        ``img_scale`` ``[B]``; see `_targets`); the function
        [`detect`][efficientdet_adapter.model.runtime.detect] ``(model, images)`` takes
        any wrapper and fills them in.
        """
        with self._at_size(images):
            class_out, box_out = self.model(images)
            return self._detections(images.shape[0], class_out, box_out, img_scale, img_size)

    def set_img_size(self, img_size: int | tuple[int, int]) -> None:
        """Take ``img_size`` images from now on (progressive resizing); see
        [`resize`][efficientdet_adapter.model.resize].

        The explicit way to change size; the other is new dataloaders at the start of an epoch
        (see [`train`][efficientdet_adapter.model.model.EfficientDetModel.train]).
        """
        set_img_size(self, img_size)

    @contextlib.contextmanager
    def _at_size(self, images: Tensor) -> Iterator[None]:
        """Run at the batch's size.

        Training: the first training batch after ``model.train()`` (or after the model was
        built) may switch the model to its valid size for good (IceVision's progressive
        resizing swaps the loaders only); after it, a training batch of another size is a
        BatchError (the transforms disagree) until the next ``model.train()`` (or a
        [`set_img_size`][efficientdet_adapter.model.model.EfficientDetModel.set_img_size] to
        that size). Eval: a batch of another size switches for this call only, so
        validating at another size never changes the size the model trains at and is saved
        with. An invalid size raises ModelConfigError."""
        size = (int(images.shape[-2]), int(images.shape[-1]))
        before = tuple(self.config.img_size)
        if self.training:
            may_switch = getattr(self, "_size_open", True)
            self._size_open = False  # the size is taken for the rest of the epoch
            if size != before and not may_switch:
                raise BatchError(_size_changed_message(before, size))
        if size == before:
            yield
            return
        self.set_img_size(size)
        try:
            yield
        finally:
            if not self.training:
                self.set_img_size(before)

    def param_groups(self) -> list[list[nn.Parameter]]:
        """IceVision's method form of
        [`param_groups`][efficientdet_adapter.model.model.EfficientDetModel.param_groups]."""
        return param_groups(self)

    def _anchor_targets(self, targets: Mapping[str, Any]) -> tuple[list, list, Tensor]:
        levels = range(self.num_levels)
        if "label_num_positives" in targets:
            keys = [f"label_{kind}_{level}" for level in levels for kind in ("cls", "bbox")]
            missing = [k for k in keys if k not in targets]
            if missing:
                raise BatchError(
                    f"targets hold label_num_positives but lack {missing}: precomputed anchor "
                    f"labels need label_cls_<l> and label_bbox_<l> for all {self.num_levels} levels"
                )
            return (
                [targets[f"label_cls_{level}"] for level in levels],
                [targets[f"label_bbox_{level}"] for level in levels],
                targets["label_num_positives"],
            )
        if "bbox" not in targets or "cls" not in targets:
            raise BatchError(
                f"targets need 'bbox' and 'cls' (or precomputed anchor labels); got keys "
                f"{sorted(targets)}"
            )
        # effdet's labeler loops over the images; label_anchors is its batched equal.
        return label_anchors(
            self.anchors, targets["bbox"], targets["cls"], self.anchor_labeler.match_threshold
        )

    def _detections(self, batch_size, class_out, box_out, img_scale, img_size) -> Tensor:
        if self.soft_nms:  # effdet's per-image path, the only one with soft-NMS
            class_top, box_top, indices, classes = _post_process(
                class_out,
                box_out,
                num_levels=self.num_levels,
                num_classes=self.num_classes,
                max_detection_points=self.max_detection_points,
            )
            return _batch_detection(
                batch_size, class_top, box_top, self.anchors.boxes, indices, classes,
                img_scale, img_size, max_det_per_image=self.max_det_per_image, soft_nms=True,
            )
        return batched_detections(  # the same detections, the batch at once
            class_out,
            box_out,
            self.anchors.boxes,
            num_classes=self.num_classes,
            max_detection_points=self.max_detection_points,
            img_scale=img_scale,
            img_size=img_size,
            max_det_per_image=self.max_det_per_image,
        )


def _size_changed_message(expected: tuple[int, int], got: tuple[int, int]) -> str:
    return (
        f"a training batch of {got[0]}x{got[1]} images (HxW) came in the middle of an epoch, "
        f"but the model trains at {expected[0]}x{expected[1]} (the size it took at the epoch's "
        "first batch): the training transforms disagree about the size. Make every transform of "
        "the training dataset end at one size (e.g. tfms.A.aug_tfms(size) or "
        "resize_and_pad(size), the same size as the valid tfms), or change the size between "
        "epochs: model.set_img_size(size), or new dataloaders before the next fit "
        "(learn.dls = ...; the model takes the new size at the first batch after model.train())"
    )


BackboneArg = Union[BackboneSpec, Callable[[], BackboneSpec], str, None]


def _resolve_name(
    backbone: BackboneArg, model_name: str | None, pretrained: Weights
) -> tuple[str, Weights]:
    if callable(backbone) and not isinstance(backbone, BackboneSpec):
        backbone = backbone()  # ``backbones.tf_lite0`` passed without calling it
    if isinstance(backbone, str):
        backbone = BackboneSpec(backbone)
    if backbone is not None and not isinstance(backbone, BackboneSpec):
        raise ModelConfigError(
            f"backbone must come from efficientdet.backbones (e.g. backbones.tf_lite0()), got "
            f"{backbone!r}"
        )
    if backbone is None and model_name is None:
        raise ModelConfigError(
            "give model_name='tf_efficientdet_lite0' (see efficientdet.list_models()) or "
            "backbone=efficientdet.backbones.tf_lite0()"
        )
    if backbone is not None and model_name is not None and backbone.model_name != model_name:
        raise ModelConfigError(
            f"backbone {backbone.model_name!r} and model_name {model_name!r} disagree: give one"
        )
    if backbone is not None and backbone.pretrained not in (None, False):
        if pretrained not in (None, False) and pretrained != backbone.pretrained:
            raise ModelConfigError(
                f"pretrained={pretrained!r} and backbone pretrained={backbone.pretrained!r} "
                "disagree: give one"
            )
        pretrained = backbone.pretrained
    return (backbone.model_name if backbone is not None else model_name), pretrained


def model(
    backbone: BackboneArg = None,
    num_classes: int | None = None,
    img_size: int | tuple[int, int] | None = None,
    *,
    model_name: str | None = None,
    pretrained: Weights = False,
    pretrained_backbone: Weights = False,
    weights: Weights = None,
    class_map: ClassMap | None = None,
    **effdet_kwargs: Any,
) -> EfficientDetModel:
    """Build an EfficientDet in effdet's training bench.

    Args:
        backbone: a spec from [`backbones`][efficientdet_adapter.model.backbones]
            (IceVision's form), or ``None`` with ``model_name``.
        num_classes: classes *including* the background: ``len(class_map)`` (>= 2).
        img_size: input size, an int (square) or ``(height, width)``, each side a multiple of
            ``2**max_level`` (128 for almost every config). Default: the config's size rounded up.
        model_name: an effdet config name
            ([`list_models`][efficientdet_adapter.model.config.list_models]), instead of
            ``backbone``.
        pretrained: ``True`` for effdet's COCO weights (hub; a backbone spec's ``pretrained`` means
            the same), or a local weights file; heads that do not fit are re-initialized.
        pretrained_backbone: ``True`` (timm hub; offline falls back to the packaged Lite0 weights
            for ``tf_efficientdet_lite0``), ``"imagenet-lite0"`` (the package), or a local file.
            See [`weights`][efficientdet_adapter.weights].
        weights: where training starts, as ``train --weights``
            ([`efficientdet_adapter.weights.start`][efficientdet_adapter.weights.start]):
            ``"auto"``, ``"coco"``, ``"none"``, a checkpoint file or a run folder (its class head
            is matched to ``class_map`` by class name); the model's ``start`` records it.
        class_map: the model's classes (``num_classes`` is then ``len(class_map)``); needed
            with ``weights=`` a checkpoint.
        **effdet_kwargs: effdet config overrides, e.g. ``max_det_per_image=50``, ``soft_nms=True``,
            ``label_smoothing=0.1``, ``anchor_scale=3.0``, or ``alternate_init=True``.

    Raises:
        ModelConfigError: unknown model name or setting, ``num_classes < 2``, bad ``img_size``.
        WeightsError: weights that cannot be found, reached (offline) or matched.

    Example:
        >>> m = model(model_name="tf_efficientdet_lite0", num_classes=3, img_size=256)
        >>> m.model.class_net.predict.conv_pw.out_channels  # 2 foreground classes x 9 anchors
        18
    """
    name, pretrained = _resolve_name(backbone, model_name, pretrained)
    if class_map is not None:
        if num_classes is not None and num_classes != len(class_map):
            raise ModelConfigError(f"num_classes={num_classes} but the class_map has "
                                   f"{len(class_map)} classes (background included): give one")
        num_classes = len(class_map)
    if num_classes is None:
        raise ModelConfigError(
            f"num_classes is required for {name}: pass len(class_map) (background included)"
        )
    mean, std = effdet_kwargs.pop("mean", None), effdet_kwargs.pop("std", None)
    if img_size is None:
        img_size = default_img_size(name, effdet_kwargs.get("max_level"))
        logger.info("img_size not given: using %s for %s", img_size, name)
    config = ModelConfig(name, num_classes, img_size, mean, std, effdet_kwargs)
    return EfficientDetModel.from_config(
        config, pretrained=pretrained, pretrained_backbone=pretrained_backbone, weights=weights,
        classes=None if class_map is None else class_map.foreground,
    )


# --- helpers for the training loops -------------------------------------------------------------
def param_groups(model: nn.Module) -> list[list[nn.Parameter]]:
    """``[backbone, fpn, heads]`` parameter lists (heads: class_net + box_net), e.g. for fastai.

    Every parameter of the network appears exactly once, trainable or frozen.

    Example:
        >>> m = model(model_name="tf_efficientdet_lite0", num_classes=2, img_size=128)
        >>> [len(group) for group in param_groups(m)]
        [144, 144, 84]
    """
    net = find_network(model)
    groups = [
        list(net.backbone.parameters()),
        list(net.fpn.parameters()),
        list(net.class_net.parameters()) + list(net.box_net.parameters()),
    ]
    grouped = {id(p) for group in groups for p in group}
    if grouped != {id(p) for p in net.parameters()} or sum(map(len, groups)) != len(grouped):
        raise ModelConfigError(
            f"param_groups does not cover {type(net).__name__}'s parameters once each"
        )
    return groups


def anchor_labeler(model_or_config: Any) -> AnchorLabeler:
    """A CPU ``effdet.anchors.AnchorLabeler`` equal to the model's, for DataLoader workers.

    Built like the one in effdet's ``DetBenchTrain`` (same anchors, IoU match threshold 0.5), so
    its ``batch_label_anchors(boxes, classes)`` output (see ``_targets.anchor_label_targets``) can
    ride in the targets; the model then skips its own labeling. ``dataloaders.make_anchor_labeler``
    is the same function under the name the loaders' docs use.

    Args:
        model_or_config: an
            [`EfficientDetModel`][efficientdet_adapter.model.model.EfficientDetModel] or its
            [`ModelConfig`][efficientdet_adapter.model.config.ModelConfig], an effdet
            bench (or a wrapper of one), a bare ``EfficientDet``, an effdet config, or an
            ``AnchorLabeler`` (returned as is).

    Example:
        >>> labeler = anchor_labeler(ModelConfig("tf_efficientdet_lite0", 3, 256))
        >>> labeler.anchors.image_size, labeler.num_classes
        ((256, 256), 2)
    """
    if isinstance(model_or_config, AnchorLabeler):
        return model_or_config
    if isinstance(model_or_config, EfficientDetModel):
        model_or_config = model_or_config.config
    if isinstance(model_or_config, ModelConfig):
        cfg = effdet_config(model_or_config)
    else:
        cfg = model_or_config
        if isinstance(cfg, nn.Module):
            cfg = unwrap_bench(cfg).config
        if not hasattr(cfg, "num_levels") or not hasattr(cfg, "image_size"):
            raise NotAModelError(
                f"make_anchor_labeler needs an effdet model, bench, config or AnchorLabeler; got "
                f"{type(model_or_config).__name__}"
            )
    return AnchorLabeler(Anchors.from_config(cfg), cfg.num_classes, match_threshold=0.5)


def normalize_tfm(model: "EfficientDetModel | ModelConfig"):
    """``tfms.A.Normalize`` with the model's mean and std (uint8 pixels, max 255).

    Example:
        >>> tfm = normalize_tfm(ModelConfig("tf_efficientdet_lite0", 2, 384))
        >>> tfm.mean, tfm.std
        ((0.5, 0.5, 0.5), (0.5, 0.5, 0.5))
    """
    from efficientdet_adapter import tfms  # the transforms package imports albumentations: load it on use  # noqa: PLC0415

    config = model.config if isinstance(model, EfficientDetModel) else model
    if not isinstance(config, ModelConfig):
        raise NotAModelError(f"normalize_tfm needs an EfficientDetModel or a ModelConfig, got {model!r}")
    return tfms.A.Normalize(mean=config.mean, std=config.std)
