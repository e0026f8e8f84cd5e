"""fastai training steps the GPU runs without waiting for the host: optimizer, AMP, progress bar.

A stock fastai step makes the host wait for the GPU three times, and launches a few kernels per
parameter:

* fastai's ``Adam`` updates each parameter with its own Python calls (about 400 parameters in a
  d0: thousands of small kernels per step).
      [`FusedAdam`][efficientdet_adapter.engines.fastai.steps.FusedAdam] is the same optimizer (the
      same
  hyper-parameters ``lr``/``mom``/``sqr_mom``/``eps``/``wd``, the same state keys
  ``grad_avg``/``sqr_avg``/``step``, no weight decay where fastai's ``do_wd`` is off) stepped by
  torch's fused AdamW kernel: one launch per parameter group.
* ``MixedPrecision`` (``learn.to_fp16()``) reads GradScaler's "found inf" flag and its scale on
  the host every step. [`MixedPrecision`][efficientdet_adapter.engines.fastai.steps.MixedPrecision]
  here hands both to an optimizer that takes them
  ([`FusedAdam`][efficientdet_adapter.engines.fastai.steps.FusedAdam]): the kernel unscales the
  gradients and skips the step on overflow, on the
  device. It also runs autocast on the model's device (so it runs on a CPU too). With another
  optimizer it does exactly what fastai's does. It keeps no ``scales`` history.
* The progress bar prints the smoothed loss with ``.item()``.
  [`ProgressCallback`][efficientdet_adapter.engines.fastai.steps.ProgressCallback] prints the
  latest value that has already reached the host
  ([`StepValues`][efficientdet_adapter.loop.step_values.StepValues]; on the CPU, the current
  one).

[`learner`][efficientdet_adapter.engines.fastai.learn.learner] uses all three by default.

Example:
    >>> learn = efficientdet.fastai.learner(dls, model)   # opt_func=FusedAdam  # doctest: +SKIP
    >>> learn.to_fp16().fine_tune(10, 1e-2)                                    # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from efficientdet_adapter.base.version_compat import adamw_step, import_fastai_quietly

import_fastai_quietly()

import torch
from fastai.callback import fp16, progress
from fastai.callback.core import CancelStepException
from fastai.optimizer import Optimizer

from efficientdet_adapter.loop.step_values import StepValues
from efficientdet_adapter.base.errors import ArgumentError, UsageError

__all__ = ["FusedAdam", "MixedPrecision", "ProgressCallback"]


class FusedAdam(Optimizer):
    """fastai's ``Adam`` (decoupled weight decay), stepped by torch's fused AdamW kernel.

    Same hyper-parameters and defaults as ``fastai.optimizer.Adam``, same ``state_dict`` layout
    (``step`` is kept as a float32 tensor on the parameter's device, as torch's kernel wants; an
    integer ``step`` from a fastai ``Adam`` state is taken over). The update is the same formula
    up to float rounding: fastai divides by ``sqrt(sqr_avg / debias2)``, torch by
    ``sqrt(sqr_avg) / sqrt(debias2)``.

    GradScaler (``learn.to_fp16()`` with
    [`MixedPrecision`][efficientdet_adapter.engines.fastai.steps.MixedPrecision]) sets its scale and
    overflow
    flag as ``grad_scale``/``found_inf`` attributes for the step (and deletes them after); the
    kernel unscales and skips on the device.
    """

    _step_supports_amp_scaling = True  # GradScaler.step sets grad_scale and found_inf

    def __init__(self, params: Iterable[Any], lr: float, mom: float = 0.9,
                 sqr_mom: float = 0.99, eps: float = 1e-5, wd: float = 0.01,
                 decouple_wd: bool = True) -> None:
        if not decouple_wd:
            raise ArgumentError("FusedAdam decouples weight decay (AdamW); for L2 regularization "
                             "pass opt_func=fastai.optimizer.Adam with decouple_wd=False")
        super().__init__(params, [], lr=lr, mom=mom, sqr_mom=sqr_mom, eps=eps, wd=wd)

    def _state(self, p: torch.Tensor) -> dict[str, Any]:
        state = self.state[p]
        if "grad_avg" not in state:
            state["grad_avg"] = torch.zeros_like(p, memory_format=torch.preserve_format)
            state["sqr_avg"] = torch.zeros_like(p, memory_format=torch.preserve_format)
        step = state.get("step", 0)
        if not isinstance(step, torch.Tensor) or step.device != p.device:
            state["step"] = torch.as_tensor(step, dtype=torch.float32).to(p.device)
        for key in ("grad_avg", "sqr_avg"):  # e.g. a checkpoint loaded on the CPU
            if state[key].device != p.device:
                state[key] = state[key].to(p.device)
        return state

    @torch.no_grad()
    def step(self, closure: Callable[[], Any] | None = None) -> None:
        if closure is not None:
            raise NotImplementedError("fastai optimizers do not support closure")
        for params, hyper in zip(self.param_lists, self.hypers):
            live = [p for p in params if p.grad is not None]
            for decay in (True, False):
                group = [p for p in live if self.state[p].get("do_wd", True) == decay]
                if not group:
                    continue
                states = [self._state(p) for p in group]
                adamw_step(group, [p.grad for p in group], [s["grad_avg"] for s in states],
                           [s["sqr_avg"] for s in states], [], [s["step"] for s in states],
                           fused=True, grad_scale=getattr(self, "grad_scale", None),
                           found_inf=getattr(self, "found_inf", None), amsgrad=False,
                           beta1=hyper["mom"], beta2=hyper["sqr_mom"], lr=hyper["lr"],
                           weight_decay=hyper["wd"] if decay else 0.0, eps=hyper["eps"],
                           maximize=False)


def _model_device_type(learn: Any) -> str:
    param = next(learn.model.parameters(), None)
    return "cuda" if param is None else param.device.type


class MixedPrecision(fp16.MixedPrecision):
    """fastai's ``MixedPrecision`` that reads nothing on the host per step (see the module doc).

    Autocast and GradScaler run on the model's device type; bf16 needs no scaler. With an
    optimizer that takes GradScaler's values (``_step_supports_amp_scaling``, as
    [`FusedAdam`][efficientdet_adapter.engines.fastai.steps.FusedAdam]), the scaler steps it and
    fastai's own ``opt.step()`` is skipped;
    otherwise each step is fastai's.
    """

    def before_fit(self) -> None:
        device = _model_device_type(self.learn)
        if self.amp_mode == fp16.AMPMode.BF16:
            if device == "cuda" and not torch.cuda.is_bf16_supported():
                raise UsageError("this GPU has no bfloat16: use learn.to_fp16() instead")
            dtype = torch.bfloat16
        else:
            dtype = torch.float16
        self.kwargs["enabled"] = dtype == torch.float16  # bf16 has fp32's range: no scaling
        self.autocast = torch.autocast(device, dtype=dtype)
        self.learn.scaler = torch.amp.GradScaler(device, **self.kwargs)
        self.scales = []

    def before_step(self) -> None:
        if not getattr(self.opt, "_step_supports_amp_scaling", False):
            super().before_step()
            return
        self.scaler.step(self.opt)  # unscales and skips an overflowing step on the device
        raise CancelStepException()  # the step is done; after_step still updates the scale


class ProgressCallback(progress.ProgressCallback):
    """fastai's progress bar; its loss comment shows the latest value already on the host.

    Args:
        values: the queue that copies the loss off the device (tests pass one with fake events).
    """

    def __init__(self, values: StepValues | None = None) -> None:
        super().__init__()
        self._values = StepValues() if values is None else values

    def before_fit(self) -> None:
        self._values.clear()
        super().before_fit()

    def after_batch(self) -> None:
        self.pbar.update(self.iter + 1)
        if not hasattr(self, "smooth_loss"):
            return
        loss = self.smooth_loss
        ready = self._values.push({"loss": loss.detach() if torch.is_tensor(loss) else loss})
        if ready:
            self.pbar.comment = f"{ready[-1][1]['loss']:.4f}"

    def after_fit(self) -> None:
        self._values.clear()
        super().after_fit()
