"""Train an EfficientDet with fastai: ``efficientdet.fastai.learner(dls, model, metrics=...)``.

A thin shell over [`steps`][efficientdet_adapter.loop.steps]: the learner is a real
`fastai.learner.Learner` whose
``splitter`` is [`efficientdet.param_groups`][efficientdet_adapter.model.model.param_groups]
(backbone, FPN, heads), so ``freeze``,
``fine_tune`` and discriminative learning rates work as in any fastai model.

What fastai sees of a batch ``((images, targets), records)`` (set by
[`EfficientDetCallback`][efficientdet_adapter.engines.fastai.learn.EfficientDetCallback]):

* ``learn.xb = (images, targets)``: effdet's bench computes its loss inside ``forward``, so the
  targets are part of the model input;
* ``learn.yb = tuple(records)``: one item per image, so fastai's ``find_bs(yb)`` is the number of
  images and the validation loss is averaged per image (not per box or per target key);
* ``learn.pred``: the bench's output dict; the loss function returns ``pred["loss"]``.

Frozen means frozen: ``learn.freeze()`` (and the first phase of ``fine_tune``) trains only the
heads. By default (``train_bn=False``) the frozen backbone and FPN keep their BatchNorm weights
*and* running statistics (those layers run in eval mode while frozen), so a frozen epoch leaves
their ``state_dict`` bit-identical. Pass ``train_bn=True`` for fastai's default, which keeps
training BatchNorm layers inside frozen groups.

Mixed precision: ``learn.to_fp16()`` / ``learn.to_bf16()`` train the network in half precision
and, by default on a GPU, in the ``channels_last`` layout that half-precision convolutions want
(``learner(channels_last=...)``; on the CPU that layout is the default in float32 too: oneDNN's
convolutions train faster in it); the losses stay float32. The optimizer (``FusedAdam``: fastai's
Adam in torch's fused kernel), mixed precision and the progress bar read nothing on the host per
step ([`steps`][efficientdet_adapter.engines.fastai.steps]).

Example:
    >>> from efficientdet_adapter.metrics import COCOMetric                     # doctest: +SKIP
    >>> learn = efficientdet.fastai.learner(dls=[train_dl, valid_dl], model=model,
    ...                                     metrics=[COCOMetric()])              # doctest: +SKIP
    >>> learn.fine_tune(10, 1e-2, freeze_epochs=1)                               # doctest: +SKIP
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from torch import nn

from efficientdet_adapter.base.version_compat import import_fastai_quietly

try:
    import_fastai_quietly()
    # fastai adds fit_one_cycle, fine_tune, lr_find (schedule), to_fp16 (fp16), the progress bar
    # (progress) and SaveModelCallback (tracker) to Learner when these modules are imported.
    from fastai.callback import fp16, progress, schedule, tracker  # noqa: F401
    from fastai.callback.core import Callback
    from fastai.data.core import DataLoaders
    from fastai.learner import Learner, Metric
except ImportError as e:  # pragma: no cover - exercised only without the extra installed
    raise ImportError(
        "efficientdet.fastai needs fastai: pip install 'efficientdet_adapter[fastai]'"
    ) from e

from efficientdet_adapter.loop.steps import channels_last_pays, predictions_from_output, split_batch, use_channels_last
from efficientdet_adapter.engines.fastai.steps import FusedAdam, MixedPrecision, ProgressCallback
from efficientdet_adapter.base.errors import ArgumentError


__all__ = [
    "EfficientDetCallback",
    "EfficientDetLearner",
    "FusedAdam",
    "MetricColumn",
    "TorchDataLoaders",
    "fastai_metrics",
    "learner",
    "loss_func",
]

logger = logging.getLogger(__name__)

#: The COCOMetric key shown in the "AP50" column (when the metric's IoU thresholds include 0.5).
AP50_KEY = "AP (IoU=0.50) area=all"


def loss_func(output: Mapping[str, Any], *records: Any) -> Any:
    """fastai loss: the bench already computed it; ``records`` (``learn.yb``) are not needed."""
    return output["loss"]


def _freeze_bn_stats(model: nn.Module) -> int:
    """Put BatchNorm layers whose parameters are all frozen in eval mode; return how many."""
    n = 0
    for module in model.modules():
        if isinstance(module, nn.modules.batchnorm._BatchNorm):
            params = list(module.parameters(recurse=False))
            if params and not any(p.requires_grad for p in params):
                module.eval()
                n += 1
    return n


class EfficientDetCallback(Callback):
    """Turns our batches into fastai's ``xb``/``yb`` (see the module docstring) and, unless the
    learner has ``train_bn=True``, keeps frozen BatchNorm layers in eval mode while training.

    ``channels_last``: convert the network to that layout when a fit starts (``"auto"``: on the
    CPU, and on a GPU with fastai's ``MixedPrecision``, i.e. after ``to_fp16()``/``to_bf16()``;
    see [`channels_last_pays`][efficientdet_adapter.loop.steps.channels_last_pays]).
    """

    order = 5  # after TrainEvalCallback (-10) sets train/eval mode, before fp16 casting (9, 10)

    def __init__(self, channels_last: bool | str = "auto") -> None:
        super().__init__()
        self.channels_last = channels_last

    def before_fit(self) -> None:
        setting = self.channels_last
        if setting == "auto":
            device = next(self.learn.model.parameters()).device.type
            mixed = any(isinstance(cb, fp16.MixedPrecision) for cb in self.learn.cbs)
            setting = channels_last_pays(device, mixed)
        if setting:
            use_channels_last(self.learn.model)
        if any(type(cb).__name__ == "WandbCallback" for cb in self.learn.cbs):
            # before WandbCallback's own before_fit (order 51) formats the run's config
            from efficientdet_adapter.training.integrations import fix_fastai_wandb_config  # noqa: PLC0415

            fix_fastai_wandb_config()

    def before_train(self) -> None:
        if not getattr(self.learn, "train_bn", True):
            _freeze_bn_stats(self.learn.model)

    def before_batch(self) -> None:
        # fastai split our batch at n_inp; glue the pieces back together and split it our way.
        images, targets, records = split_batch((*self.learn.xb, *self.learn.yb))
        self.learn.xb = (images, targets)
        self.learn.yb = tuple(records)


class _SharedMetric:
    """One engine-agnostic metric (``accumulate(preds)`` / ``finalize()``) read by several
    fastai columns: accumulated once per batch, finalized once per validation."""

    def __init__(self, metric: Any) -> None:
        self.metric = metric
        self._result: dict[str, float] | None = None

    def reset(self) -> None:
        self._result = None
        reset = getattr(self.metric, "reset", None)
        if callable(reset):  # drop what an interrupted validation may have left behind
            reset()

    def accumulate(self, learn: Learner) -> None:
        self.metric.accumulate(predictions_from_output(learn.pred, learn.yb))

    def result(self) -> dict[str, float]:
        if self._result is None:
            self._result = dict(self.metric.finalize())
        return self._result


class MetricColumn(Metric):
    """One column of fastai's results table: the value of ``key`` in a metric's ``finalize()``.

    Columns made from the same metric by
    [`fastai_metrics`][efficientdet_adapter.engines.fastai.learn.fastai_metrics] share one
    accumulation: the
    first column feeds the metric, every column reads the same finalized dict.
    """

    def __init__(self, shared: _SharedMetric, key: str | None, name: str, owner: bool) -> None:
        self.shared, self.key, self._name, self.owner = shared, key, name, owner

    @property
    def name(self) -> str:
        return self._name

    def reset(self) -> None:
        if self.owner:
            self.shared.reset()

    def accumulate(self, learn: Learner) -> None:
        if self.owner:
            self.shared.accumulate(learn)

    @property
    def value(self) -> float | None:
        result = self.shared.result()
        if not result:
            return None
        key = next(iter(result)) if self.key is None else self.key
        if key not in result:
            logger.warning("metric column %r: key %r not in %s", self._name, key, list(result))
            return None
        return result[key]


def _metric_name(metric: Any) -> str:
    name = getattr(metric, "name", None)
    return name if isinstance(name, str) and name else type(metric).__name__


def _default_columns(metric: Any) -> dict[str, str | None]:
    from efficientdet_adapter.metrics import COCOMetric  # noqa: PLC0415

    if not isinstance(metric, COCOMetric):
        return {_metric_name(metric): None}
    # "COCOMetric" is the column IceVision showed (the first key, AP at IoU 0.50:0.95), so
    # ``SaveModelCallback(monitor="COCOMetric")`` keeps working.
    keys = metric.keys
    columns: dict[str, str | None] = {_metric_name(metric): keys[0]}
    if AP50_KEY in keys and AP50_KEY != keys[0]:
        columns["AP50"] = AP50_KEY
    return columns


def fastai_metrics(metric: Any, columns: Mapping[str, str] | None = None) -> list[MetricColumn]:
    """fastai metrics (one per table column) reading one engine-agnostic metric.

    Args:
        metric: an object with ``accumulate(list[Prediction])`` and ``finalize() -> dict``, such
            as ``COCOMetric()``.
        columns: column name -> key of ``finalize()``'s dict. Default: for a COCOMetric,
            ``{"COCOMetric": "AP (IoU=0.50:0.95) area=all", "AP50": "AP (IoU=0.50) area=all"}``
            (its first key, and AP50 when its IoU thresholds include 0.5); for any other
            metric, its first key under the metric's name.

    Example:
        >>> cols = fastai_metrics(COCOMetric(), {"AP": "AP (IoU=0.50:0.95) area=all"})  # doctest: +SKIP
        >>> [c.name for c in cols]                                                    # doctest: +SKIP
        ['AP']
    """
    if not (callable(getattr(metric, "accumulate", None)) and callable(getattr(metric, "finalize", None))):
        raise ArgumentError(
            f"{type(metric).__name__} is not a metric: it needs accumulate(preds) and finalize()"
        )
    if columns is None:
        columns = _default_columns(metric)
    shared = _SharedMetric(metric)
    return [
        MetricColumn(shared, key, name, owner=i == 0) for i, (name, key) in enumerate(columns.items())
    ]


def _fastai_metric_list(metrics: Any) -> list[Any]:
    out: list[Any] = []
    for m in [] if metrics is None else (metrics if isinstance(metrics, (list, tuple)) else [metrics]):
        if isinstance(m, Metric) or not hasattr(m, "finalize"):
            out.append(m)  # already a fastai metric (or a fastai-style function)
        else:
            out.extend(fastai_metrics(m))
    return out


class EfficientDetLearner(Learner):
    """A fastai `Learner` whose ``show_results`` draws detections and
    whose ``to_fp16``/``to_bf16`` add the sync-free
    [`steps.MixedPrecision`][efficientdet_adapter.engines.fastai.steps.MixedPrecision]."""

    def to_fp16(self, **kwargs: Any) -> EfficientDetLearner:  # type: ignore[override]
        """Mixed precision in float16 with a GradScaler (``kwargs``: GradScaler's arguments)."""
        return self.add_cb(MixedPrecision(amp_mode=fp16.AMPMode.FP16, **kwargs))

    def to_bf16(self) -> EfficientDetLearner:  # type: ignore[override]
        """Mixed precision in bfloat16 (no scaler needed)."""
        return self.add_cb(MixedPrecision(amp_mode=fp16.AMPMode.BF16))

    def show_results(  # type: ignore[override]
        self,
        ds_idx: int = 1,
        dl: Any = None,
        max_n: int = 6,
        detection_threshold: float = 0.5,
        save_path: str | Path | None = None,
        **kwargs: Any,
    ) -> Any:
        """Predict on the first ``max_n`` images of ``dl`` (default: ``dls[ds_idx]``) and draw
        predictions beside the ground truth (see
        [`efficientdet.show_results`][efficientdet_adapter.inference.prediction.show_results])."""
        from efficientdet_adapter.inference.prediction import show_results  # noqa: PLC0415

        dl = self.dls[ds_idx] if dl is None else dl
        return show_results(
            self.model,
            dl.dataset,
            detection_threshold=detection_threshold,
            num_samples=max_n,
            save_path=save_path,
            **kwargs,
        )


class TorchDataLoaders(DataLoaders):
    """fastai ``DataLoaders`` over plain torch loaders, on a chosen device.

    fastai reads ``dls.device`` to place the model (its default: the GPU when there is one);
    torch loaders cannot be moved, so the device is only recorded here.
    """

    def __init__(self, *loaders: Any, path: str | Path = ".", device: Any = None) -> None:
        super().__init__(*loaders, path=path)
        import torch  # noqa: PLC0415

        self._device = None if device is None else torch.device(device)

    @property
    def device(self) -> Any:
        from fastai.torch_core import default_device  # noqa: PLC0415

        return self._device if self._device is not None else default_device()

    @device.setter
    def device(self, d: Any) -> None:
        self._device = d


def learner(
    dls: Sequence[Any] | DataLoaders,
    model: nn.Module,
    cbs: Callback | Sequence[Callback] | None = None,
    metrics: Any = None,
    device: Any = None,
    channels_last: bool | str = "auto",
    **learner_kwargs: Any,
) -> EfficientDetLearner:
    """A fastai learner for an EfficientDet model.

    Args:
        dls: ``[train_dl, valid_dl]`` (plain torch DataLoaders from ``efficientdet.train_dl`` /
            ``valid_dl``) or a fastai ``DataLoaders`` holding them.
        model: an ``EfficientDetModel`` from ``efficientdet.model``.
        cbs: extra fastai callbacks.
        metrics: ``COCOMetric()`` instances (each becomes named columns, see
            [`fastai_metrics`][efficientdet_adapter.engines.fastai.learn.fastai_metrics]), or fastai
            metrics, which are passed through.
        device: where fastai puts the model (default: fastai's ``default_device()``, the GPU
            when there is one).
        channels_last: train the network in the ``channels_last`` layout; ``"auto"``: on the
            CPU and on a GPU in mixed precision (``learn.to_fp16()``/``to_bf16()``), see the
            module docstring.
        **learner_kwargs: anything ``fastai.learner.Learner`` takes (``opt_func``, ``lr``,
            ``path``, ``wd``...). Defaults here: ``splitter=efficientdet.param_groups``,
            ``train_bn=False`` (see the module docstring), ``loss_func`` = the bench's loss,
            ``opt_func=FusedAdam`` (fastai's Adam in torch's fused kernel, see
            [`steps`][efficientdet_adapter.engines.fastai.steps]).

    Example:
        >>> learn = learner([train_dl, valid_dl], model, metrics=[COCOMetric()])  # doctest: +SKIP
        >>> learn.fine_tune(10, 1e-2, freeze_epochs=1)                            # doctest: +SKIP
    """
    from efficientdet_adapter.model.model import param_groups  # noqa: PLC0415

    if not isinstance(dls, DataLoaders):
        loaders = list(dls)
        if len(loaders) != 2:
            raise ArgumentError(
                f"dls must be [train_dl, valid_dl] (two DataLoaders); got {len(loaders)} loaders"
            )
        dls = TorchDataLoaders(*loaders, path=learner_kwargs.get("path") or ".", device=device)
    learner_kwargs.setdefault("splitter", param_groups)
    learner_kwargs.setdefault("loss_func", loss_func)
    learner_kwargs.setdefault("train_bn", False)
    learner_kwargs.setdefault("opt_func", FusedAdam)
    extra = [] if cbs is None else (list(cbs) if isinstance(cbs, (list, tuple)) else [cbs])
    learn = EfficientDetLearner(
        dls=dls,
        model=model,
        cbs=[EfficientDetCallback(channels_last), *extra],
        metrics=_fastai_metric_list(metrics),
        **learner_kwargs,
    )
    stock_bars = [cb for cb in learn.cbs if type(cb) is progress.ProgressCallback]
    if stock_bars:  # fastai's default bar reads the loss on the host every step
        learn.remove_cbs(stock_bars)
        learn.add_cb(ProgressCallback())
    return learn
