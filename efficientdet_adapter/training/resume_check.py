"""What ``--resume`` checks before it trusts a ``last.pt`` and the data it resumes on.

A ``last.pt`` is read with ``weights_only=True`` (no code runs), but what it holds still drives
the run: its options build the model, its counters decide which rows of ``metrics.csv`` stay, its
optimizer state is loaded into the optimizer. A file that was edited, damaged or written by
another version is refused here, whole, with one line naming ``last.pt`` and the field, before
any of it is used:

* `check_train_state`: the schema and types of the options (``extra.options``), the
  counters (``train_state.run``), the random generators' states, the optimizer, EMA and
  Lightning states, and that the options describe the model the file's weights are for;
* `check_state_fits`: every tensor of the weights and of the optimizer state fits the model
  that the options build (shapes, counts);
* `class_map_change`: the data's classes against the run's (same names, same order).

Example:
    >>> data, state = load_train_state("runs/x/last.pt")   # calls check_train_state
    ... # doctest: +SKIP
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import torch

from efficientdet_adapter.base.errors import CheckpointError
from efficientdet_adapter.records.record import normalize_img_size

__all__ = ["check_train_state", "check_state_fits", "check_fastai_optimizer", "class_map_change"]

_FIX = "the file was edited or damaged; resume from an intact last.pt or start a new run"


def _kind(value: Any) -> str:
    return "None" if value is None else type(value).__name__


def _bad(path: Path, field: str, value: Any, expected: str) -> CheckpointError:
    shown = repr(value) if isinstance(value, (str, int, float, bool)) or value is None \
        else f"a {_kind(value)}"
    if len(shown) > 60:
        shown = shown[:57] + "..."
    return CheckpointError(f"{path}: {field} is {shown}; expected {expected} ({_FIX})")


def _int(path, field, value, low: int = 0, high: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < low \
            or (high is not None and value > high):
        bound = f"an int >= {low}" + ("" if high is None else f" and <= {high}")
        raise _bad(path, field, value, bound)
    return value


def _number(path, field, value, *, optional: bool = False, low: float | None = None,
            high: float | None = None) -> None:
    if optional and value is None:
        return
    ok = (not isinstance(value, bool) and isinstance(value, (int, float))
          and math.isfinite(value) and (low is None or value > low)
          and (high is None or value < high))
    if not ok:
        rng = "" if low is None else f" in ({low}, {high if high is not None else 'inf'})"
        raise _bad(path, field, value, f"a finite number{rng}" + (" or None" if optional else ""))


def _mapping(path, field, value) -> Mapping:
    if not isinstance(value, Mapping):
        raise _bad(path, field, value, "a dict")
    return value


def _tensors(path, field, value) -> Mapping[str, torch.Tensor]:
    _mapping(path, field, value)
    for key, tensor in value.items():
        if not isinstance(key, str) or not isinstance(tensor, torch.Tensor):
            raise _bad(path, f"{field}[{key!r}]", tensor, "a tensor under a str key")
    if not value:
        raise _bad(path, field, value, "a non-empty state dict")
    return value


def _check_options(path: Path, options: Any, TrainOptions: type | None) -> dict[str, Any]:  # noqa: N803
    """The saved options, made into ``TrainOptions`` (its own check, the Python API's: one home
    of what an option may hold), a refusal naming ``extra.options.<field>``."""
    from efficientdet_adapter.base.errors import OptionError  # noqa: PLC0415

    options = _mapping(path, "extra.options", options)
    if TrainOptions is None:
        return options
    try:
        TrainOptions.from_dict(dict(options))  # an older run's missing field: its default
    except OptionError as e:
        raise _bad(path, f"extra.options.{e.field}", e.value, e.expected) from None
    return dict(options)


def _check_rng(path: Path, rng: Any) -> None:
    rng = _mapping(path, "train_state.rng", rng)
    py = rng.get("python")
    if not (isinstance(py, (list, tuple)) and len(py) == 3 and isinstance(py[0], int)
            and isinstance(py[1], (list, tuple)) and len(py[1]) == 625
            and all(isinstance(v, int) and not isinstance(v, bool) for v in py[1])
            and (py[2] is None or isinstance(py[2], float))):
        raise _bad(path, "train_state.rng.python", py, "Python's random.getstate() as a list")
    np_state = rng.get("numpy")
    if not (isinstance(np_state, (list, tuple)) and len(np_state) == 5
            and np_state[0] == "MT19937" and isinstance(np_state[1], torch.Tensor)
            and tuple(np_state[1].shape) == (624,) and isinstance(np_state[2], int)
            and isinstance(np_state[3], int) and isinstance(np_state[4], (int, float))):
        raise _bad(path, "train_state.rng.numpy", np_state, "NumPy's MT19937 state")
    t = rng.get("torch")
    if not (isinstance(t, torch.Tensor) and t.dtype == torch.uint8 and t.dim() == 1):
        raise _bad(path, "train_state.rng.torch", t, "a uint8 tensor (torch.get_rng_state())")
    if "cuda" in rng and not (isinstance(rng["cuda"], (list, tuple))
                              and all(isinstance(s, torch.Tensor) for s in rng["cuda"])):
        raise _bad(path, "train_state.rng.cuda", rng["cuda"], "a list of uint8 tensors")


def check_train_state(data: Mapping[str, Any], state: Mapping[str, Any], path: str | Path,
                      options_type: type | None = None,
                      run_defaults: Mapping[str, Any] | None = None) -> None:
    """Refuse a ``last.pt`` whose options, counters or saved states are not what a run writes.

    ``data`` is the checkpoint (from ``load_checkpoint_data``), ``state`` its
    ``extra["train_state"]``, ``options_type`` the dataclass of the run's options
    (``runs.TrainOptions``, passed by the layer above; without it the options are only checked
    to be a mapping), ``run_defaults`` the counters of a new run (``RunState().to_dict()``,
    for a field an older run lacks).

    Raises:
        CheckpointError: one line, naming ``path`` and the field.
    """
    from efficientdet_adapter.records.class_map import ClassMap  # noqa: PLC0415
    from efficientdet_adapter.base.errors import ClassMapError  # noqa: PLC0415

    path = Path(path)
    extra = _mapping(path, "extra", data.get("extra"))
    options = _check_options(path, extra.get("options"), options_type)
    for key in ("data", "format"):  # where the command line's run came from
        if key in extra and not (isinstance(extra[key], str) and extra[key]):
            raise _bad(path, f"extra.{key}", extra[key], "a non-empty str")
    run = _mapping(path, "train_state.run", state.get("run"))
    run = {**(run_defaults or {}), **run}  # a field an older run lacks: its default
    epoch = _int(path, "train_state.run.epoch", state["run"].get("epoch"), 0)
    total = options.get("epochs", 10) + options.get("freeze_epochs", 0)
    if epoch > total:
        raise _bad(path, "train_state.run.epoch", epoch,
                   f"at most the run's {total} epochs (extra.options)")
    _int(path, "train_state.run.step", run["step"], 0)
    _int(path, "train_state.run.best_epoch", run["best_epoch"], 0, epoch)
    _int(path, "train_state.run.bad_epochs", run["bad_epochs"], 0, epoch)
    _number(path, "train_state.run.best_score", run["best_score"], optional=True)
    if not isinstance(run["stopped_early"], bool):
        raise _bad(path, "train_state.run.stopped_early", run["stopped_early"], "true or false")
    if "epoch" in extra and extra["epoch"] != epoch:
        raise _bad(path, "extra.epoch", extra["epoch"], f"{epoch}, as train_state.run.epoch")
    engine = state.get("engine", options.get("engine"))
    if engine != options.get("engine", "fastai"):  # (the options' engine: one of ENGINES)
        raise _bad(path, "train_state.engine", engine,
                   f"the engine of extra.options.engine ({options.get('engine', 'fastai')})")
    _check_rng(path, state.get("rng"))
    # the model the options describe is the model the weights are for
    for key, expected in (("model_name", options.get("model_name")),):
        if expected is not None and data.get(key) != expected:
            raise _bad(path, key, data.get(key), f"{expected!r}, as extra.options.model_name")
    size = options.get("img_size")
    if size is not None and size != "auto":
        try:  # the one size reader; a size it refuses is a damaged file's field
            hw = normalize_img_size(size, where=f"{path}", error=CheckpointError)
        except CheckpointError:
            raise _bad(path, "extra.options.img_size", size, "an int or [height, width]") from None
        want = [hw.height, hw.width]
        if list(data.get("img_size") or []) != want:
            raise _bad(path, "img_size", data.get("img_size"),
                       f"{want}, as extra.options.img_size")
    try:
        class_map = ClassMap.from_dict(_mapping(path, "class_map", data.get("class_map")))
    except (ClassMapError, TypeError, ValueError, KeyError) as e:
        raise CheckpointError(f"{path}: class_map is not a class map ({e}; {_FIX})") from None
    if data.get("num_classes") != len(class_map):
        raise _bad(path, "num_classes", data.get("num_classes"),
                   f"{len(class_map)}, the length of class_map")
    _tensors(path, "state_dict", data.get("state_dict"))
    if "model" in state:
        _tensors(path, "train_state.model", state["model"])
    if "ema" in state:
        ema = _mapping(path, "train_state.ema", state["ema"])
        _int(path, "train_state.ema.updates", ema.get("updates"), 0)
        _tensors(path, "train_state.ema.weights", ema.get("weights"))
    if "row" in state:  # the epoch's metrics.csv row (written back only for its own epoch)
        row = _mapping(path, "train_state.row", state["row"])
        if not all(isinstance(k, str) and (v is None or isinstance(v, (int, float, str)))
                   for k, v in row.items()):
            raise _bad(path, "train_state.row", row, "a metrics.csv row (names to numbers)")
    if "history_steps" in state:
        steps = state["history_steps"]
        if not isinstance(steps, (list, tuple)) or not all(
                isinstance(v, (int, float)) and not isinstance(v, bool) for v in steps):
            raise _bad(path, "train_state.history_steps", steps, "a list of numbers")
    if engine == "fastai" and "opt" in state:
        opt = _mapping(path, "train_state.opt", state["opt"])
        for key in ("state", "hypers"):
            items = opt.get(key)
            if not isinstance(items, (list, tuple)) or not all(isinstance(s, Mapping)
                                                                for s in items):
                raise _bad(path, f"train_state.opt.{key}", items, "a list of dicts")
    if engine == "lightning":
        light = _mapping(path, "train_state.lightning", state.get("lightning"))
        _tensors(path, "train_state.lightning.state_dict", light.get("state_dict"))
        opts = light.get("optimizer_states")
        if not (isinstance(opts, (list, tuple)) and len(opts) == 1 and isinstance(opts[0], Mapping)
                and isinstance(opts[0].get("state"), Mapping)
                and isinstance(opts[0].get("param_groups"), (list, tuple))):
            raise _bad(path, "train_state.lightning.optimizer_states", opts,
                       "one optimizer's state_dict (state, param_groups)")
        for key in ("epoch", "global_step"):
            _int(path, f"train_state.lightning.{key}", light.get(key), 0)


def _fit(path: Path, field: str, weights: Mapping[str, torch.Tensor], net: torch.nn.Module
         ) -> None:
    target = net.state_dict()
    prefixes = ("", "model.model.", "model.")
    for prefix in prefixes:
        stripped = {k[len(prefix):]: v for k, v in weights.items() if k.startswith(prefix)}
        if set(target) <= set(stripped):
            break
    else:
        missing = sorted(set(target) - set(weights))
        raise CheckpointError(
            f"{path}: {field} does not fit the model its options describe: {len(missing)} of "
            f"{len(target)} tensors missing (e.g. {missing[0]}) ({_FIX})")
    for key, tensor in target.items():
        if tuple(stripped[key].shape) != tuple(tensor.shape):
            raise CheckpointError(
                f"{path}: {field}[{key!r}] has shape {tuple(stripped[key].shape)} but the model "
                f"its options describe has {tuple(tensor.shape)} ({_FIX})")


def _fit_optimizer(path: Path, field: str, per_param: Sequence[Mapping[str, Any]],
                   params: Sequence[torch.Tensor]) -> None:
    if len(per_param) != len(params):
        raise CheckpointError(f"{path}: {field} holds the state of {len(per_param)} parameters "
                              f"but the model has {len(params)} ({_FIX})")
    for i, (entry, param) in enumerate(zip(per_param, params)):
        for key, value in entry.items():
            if isinstance(value, torch.Tensor) and value.dim() > 0 \
                    and tuple(value.shape) != tuple(param.shape):
                raise CheckpointError(
                    f"{path}: {field}[{i}][{key!r}] has shape {tuple(value.shape)} but parameter "
                    f"{i} has {tuple(param.shape)} ({_FIX})")
            if not isinstance(value, (torch.Tensor, int, float, bool)) and value is not None:
                raise _bad(path, f"{field}[{i}][{key!r}]", value, "a tensor or a number")


def check_state_fits(model: torch.nn.Module, data: Mapping[str, Any], state: Mapping[str, Any],
                     path: str | Path) -> None:
    """Refuse a ``last.pt`` whose weights or optimizer state do not fit ``model`` (the model its
    options build), naming the field and the first tensor that does not fit."""
    from efficientdet_adapter.model.wrappers import find_network  # noqa: PLC0415

    path = Path(path)
    net = find_network(model)
    _fit(path, "state_dict", data["state_dict"], net)
    if "model" in state:
        _fit(path, "train_state.model", state["model"], net)
    if "ema" in state:
        _fit(path, "train_state.ema.weights", state["ema"]["weights"], net)
    params = list(model.parameters())
    if "lightning" in state:  # (fastai's optimizer: check_fastai_optimizer, once it exists)
        light = state["lightning"]
        _fit(path, "train_state.lightning.state_dict", light["state_dict"], net)
        saved = light["optimizer_states"][0]["state"]
        if any(not isinstance(k, int) or not 0 <= k < len(params) for k in saved):
            raise _bad(path, "train_state.lightning.optimizer_states[0].state",
                       sorted(map(str, saved))[:3], f"parameter indices 0..{len(params) - 1}")
        _fit_optimizer(path, "train_state.lightning.optimizer_states[0].state",
                       [saved[k] for k in sorted(saved)], [params[k] for k in sorted(saved)])


def check_fastai_optimizer(learn, state: Mapping[str, Any], path: str | Path) -> None:
    """Refuse a fastai optimizer state (``train_state.opt``) that does not fit ``learn.opt``:
    one state per parameter, in the optimizer's order, each tensor of its parameter's shape; one
    hyper-parameter dict per parameter group."""
    if "opt" not in state:
        return
    path = Path(path)
    params = [p for p, *_ in learn.opt.all_params(with_grad=False)]
    _fit_optimizer(path, "train_state.opt.state", state["opt"]["state"], params)
    groups = len(learn.opt.param_lists)
    if len(state["opt"]["hypers"]) != groups:
        raise CheckpointError(f"{path}: train_state.opt.hypers holds {len(state['opt']['hypers'])} "
                              f"parameter groups but the optimizer has {groups} ({_FIX})")


def class_map_change(run: Sequence[str], data: Sequence[str]) -> str | None:
    """What changed between the run's foreground classes and the data's (``None``: nothing).

    Example:
        >>> class_map_change(["circle", "square"], ["square", "circle"])
        'the same classes in another order (run: circle, square; data: square, circle)'
        >>> class_map_change(["circle"], ["circle", "star"])
        'added: star'
    """
    run, data = list(run), list(data)
    if run == data:
        return None
    added = [c for c in data if c not in run]
    removed = [c for c in run if c not in data]
    if not added and not removed:
        return (f"the same classes in another order (run: {', '.join(run)}; data: "
                f"{', '.join(data)})")
    parts = ([f"added: {', '.join(added)}"] if added else []) + \
        ([f"removed: {', '.join(removed)}"] if removed else [])
    return "; ".join(parts)
