"""What a training run keeps between epochs: its state, its checkpoints, its random generators.

The run folder's per-epoch writer, under the engines' run core
([`RunRecorder`][efficientdet_adapter.engines.core.RunRecorder], which both engines' run callbacks
call):
[`RunTracker.end_epoch`][efficientdet_adapter.training.state.RunTracker.end_epoch] runs once per
validated epoch,
which decides whether the model improved, writes ``best.pt``, ``last.pt``, ``metrics.csv`` and
the TensorBoard scalars (`tensorboard_log`) and says whether early stopping ends the run. Files are the library's one-file checkpoints
([`save_checkpoint`][efficientdet_adapter.checkpoints.checkpoint.save_checkpoint], loadable with
``torch.load(weights_only=True)``), written to a temporary file and renamed into place, so a
crash never leaves half a checkpoint.

``last.pt`` holds, under ``extra["train_state"]``, what ``--resume`` needs: the raw weights (when
the saved model is an EMA), the optimizer and schedule state, the EMA weights, the
[`RunState`][efficientdet_adapter.training.state.RunState] (epoch, optimizer steps, best score,
early-stopping counter) and the random
generators' states.

Example:
    >>> tracker = RunTracker("runs/x", class_map, patience=5)          # doctest: +SKIP
    >>> stop = tracker.end_epoch(model, row, train_state={...})        # doctest: +SKIP
"""

from __future__ import annotations

import dataclasses
import logging
import math
import random
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from efficientdet_adapter.base.errors import CheckpointError, UsageError

__all__ = [
    "MONITOR",
    "RUN_FILES",
    "RunState",
    "RunTracker",
    "rng_state",
    "set_rng_state",
    "seed_epoch",
    "load_train_state",
    "check_run_folder",
]

logger = logging.getLogger(__name__)

#: The validation score that decides ``best.pt`` and early stopping: COCO AP at IoU 0.50:0.95.
MONITOR = "AP (IoU=0.50:0.95) area=all"
#: Files whose presence means a folder holds an earlier run.
RUN_FILES = ("last.pt", "best.pt", "model.pt", "metrics.csv")


@dataclass
class RunState:
    """Counters of a run, saved in ``last.pt`` and restored by ``--resume``.

    ``epoch``: completed epochs; ``step``: optimizer steps taken; ``best_score``/``best_epoch``:
    the best validation `MONITOR` so far; ``bad_epochs``: epochs since it improved.
    """

    epoch: int = 0
    step: int = 0
    best_score: float | None = None
    best_epoch: int = 0
    bad_epochs: int = 0
    stopped_early: bool = False

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RunState:
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})


# -- files ---------------------------------------------------------------------------------------
def check_run_folder(out: str | Path, *, resume: bool = False, exist_ok: bool = False) -> Path:
    """Refuse to train into a folder that holds an earlier run, unless told what to do.

    Raises:
        UsageError: the folder holds run files and neither ``resume`` nor ``exist_ok`` is set,
            or ``resume`` is set and there is no ``last.pt`` to resume from.
    """
    out = Path(out)
    found = [name for name in RUN_FILES if (out / name).exists()]
    if resume:
        if not (out / "last.pt").is_file():
            raise UsageError(f"--resume {out}: no last.pt there to resume from; give the --out "
                             "folder of a run that finished at least one epoch")
        return out
    if found and not exist_ok:
        raise UsageError(f"--out {out}: holds an earlier run ({', '.join(found)}); continue it with "
                         f"--resume {out}, overwrite it with --exist-ok, or choose another folder")
    return out


def load_train_state(path: str | Path, options_type: type | None = None
                     ) -> tuple[dict[str, Any], dict[str, Any]]:
    """``(checkpoint data, train_state)`` of a ``last.pt`` (read with ``weights_only=True``),
    validated whole (`check_train_state`, its options against
    ``options_type``, e.g. ``runs.TrainOptions``)."""
    from efficientdet_adapter.weights.state_dict import load_checkpoint_data  # noqa: PLC0415

    data = load_checkpoint_data(path)
    state = (data.get("extra") or {}).get("train_state")
    if not isinstance(state, dict) or "run" not in state:
        raise CheckpointError(f"{path}: holds no training state to resume from; resume from the "
                              "last.pt of a run (model.pt and best.pt keep only the weights)")
    from efficientdet_adapter.training.resume_check import check_train_state  # noqa: PLC0415

    # whole, before any of it is used
    check_train_state(data, state, path, options_type, RunState().to_dict())
    return data, state


# -- random generators -------------------------------------------------------------------------
def rng_state() -> dict[str, Any]:
    """The states of Python's, NumPy's and PyTorch's global generators, as plain data."""
    kind, keys, pos, has_gauss, cached = np.random.get_state()
    version, internal, gauss = random.getstate()
    state = {
        "python": [version, list(internal), gauss],
        "numpy": [kind, torch.from_numpy(keys.astype(np.int64)), pos, has_gauss, cached],
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    """Restore what [`rng_state`][efficientdet_adapter.training.state.rng_state] returned."""
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    kind, keys, pos, has_gauss, cached = state["numpy"]
    np.random.set_state((kind, keys.numpy().astype(np.uint32), pos, has_gauss, cached))
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def seed_epoch(seed: int, epoch: int, dataset: Any = None) -> None:
    """Seed every generator a training epoch draws from from ``(seed, epoch)`` alone.

    The shuffling order, the augmentations (the dataset's transform has its own generator, see
    [`seed`][efficientdet_adapter.tfms.albumentations_adapter.Adapter.seed]) and dropout then depend
    on nothing but
    the epoch, so a resumed run repeats an interrupted epoch exactly.
    """
    value = (int(seed) * 1_000_003 + int(epoch)) % (2**31)
    random.seed(value)
    np.random.seed(value)
    torch.manual_seed(value)
    tfm = getattr(dataset, "tfm", None)
    if callable(getattr(tfm, "seed", None)):
        tfm.seed(value)


# -- the tracker -------------------------------------------------------------------------------
def to_plain(value: Any) -> Any:
    """``value`` with NumPy scalars and arrays turned into Python numbers and tensors (fastai's
    schedules leave ``np.float64`` in the optimizer's hyper-parameters; ``weights_only`` loads
    refuse them)."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return torch.from_numpy(value.copy())
    if isinstance(value, dict):
        return {k: to_plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_plain(v) for v in value]
    return value


def _finite(value: Any) -> float | None:
    try:
        value = float(value)
    except (TypeError, ValueError):
        return None
    return value if math.isfinite(value) else None


class RunTracker:
    """Best and last checkpoints, early stopping and ``metrics.csv`` of one run.

    Args:
        out: the run folder (``None``: keep nothing on disk, only decide best and stop).
        class_map: the class map saved in every checkpoint.
        patience: stop after this many validated epochs without a better `MONITOR`
            (``None``: never).
        extra: plain data saved in every checkpoint (options, data path, ...).
        state: a [`RunState`][efficientdet_adapter.training.state.RunState] to continue
            (``--resume``).
        last_row: the ``metrics.csv`` row saved in the resumed ``last.pt``
            (``train_state["row"]``): written when the log lacks it (the run was killed between
            the two writes).
        is_writer: whether this process writes files (rank 0 under DDP).
        tensorboard: also log to ``out/tensorboard`` when tensorboard is installed (see
            `tensorboard_log`).
    """

    def __init__(self, out: str | Path | None, class_map: Any, *, patience: int | None = None,
                 extra: dict[str, Any] | None = None, state: RunState | None = None,
                 monitor: str = MONITOR, is_writer: bool = True,
                 tensorboard: bool = True, last_row: dict[str, Any] | None = None) -> None:
        from efficientdet_adapter.training.csvlog import MetricsCSV  # noqa: PLC0415

        if patience is not None and patience < 1:
            raise UsageError(f"--patience {patience}: must be at least 1 epoch")
        self.out = None if out is None else Path(out)
        self.class_map = class_map
        self.patience = patience
        self.extra = dict(extra or {})
        self.state = state or RunState()
        self.monitor = monitor
        self.is_writer = is_writer
        self.tensorboard = tensorboard
        self._tb: Any = None
        self._checks: list[Callable[[], None]] = []
        self.csv = MetricsCSV(self.out / "metrics.csv") if self.out is not None and is_writer \
            else None
        if self.csv is not None:
            self.csv.keep_until(self.state.epoch)  # rows of epochs a resumed run repeats go
            if last_row is not None and last_row.get("epoch") == self.state.epoch > 0 and not any(
                    r.get("epoch") == self.state.epoch for r in self.csv.rows):
                self.csv.append(last_row)  # the row a kill kept from the log, from last.pt

    def step(self, n: int = 1, loss: Any = None) -> None:
        """Count ``n`` optimizer steps; ``loss`` (a number or tensor) goes to TensorBoard at the
        new step count (a tensor is read on the host: the training callbacks pass numbers later,
        through [`log_step_loss`][efficientdet_adapter.training.state.RunTracker.log_step_loss], see
        [`efficientdet_adapter.loop.step_values`][efficientdet_adapter.loop.step_values])."""
        self.state.step += n
        if loss is not None:
            self.log_step_loss(loss, self.state.step)

    def log_step_loss(self, loss: Any, step: int) -> None:
        """The training loss of optimizer step ``step`` (a number) to TensorBoard."""
        tb = self.tensorboard_log()
        if tb is not None:
            from efficientdet_adapter.training.tensorboard_log import STEP_LOSS  # noqa: PLC0415

            tb.scalar(STEP_LOSS, loss, step)

    def check_before_save(self, check: Callable[[], None]) -> None:
        """Run ``check()`` at the start of every
        [`end_epoch`][efficientdet_adapter.training.state.RunTracker.end_epoch], before any file is
        written:
        a non-finite-loss check whose values arrive late raises there, so weights trained
        after a NaN never become ``last.pt`` or ``best.pt``."""
        if check not in self._checks:
            self._checks.append(check)

    def tensorboard_log(self):
        """The run's `TensorBoardLog`, opened on first use (``None``
        without a run folder, off rank 0, with ``tensorboard=False`` or without tensorboard)."""
        if self._tb is None and self.tensorboard and self.out is not None and self.is_writer:
            from efficientdet_adapter.training.tensorboard_log import TensorBoardLog, tensorboard_available  # noqa: PLC0415

            if not tensorboard_available():
                self.tensorboard = False
                return None
            # events after the steps this run has (an interrupted epoch's, an earlier run's) go
            self._tb = TensorBoardLog(self.out / "tensorboard", purge_step=self.state.step + 1)
        return self._tb if self.is_writer else None

    #: The ``--time`` run's ``BudgetClock`` (``None``: no budget): the run
    #: stops once its planned steps are done, and each checkpoint keeps the clock's state.
    budget: Any = None

    def close(self) -> None:
        """Close the TensorBoard log (a later step opens a new one)."""
        if self._tb is not None:
            self._tb.close()
            self._tb = None

    def _save(self, model, name: str, train_state: dict[str, Any] | None = None) -> Path | None:
        from efficientdet_adapter.checkpoints.checkpoint import model_metadata, save_checkpoint  # noqa: PLC0415

        if self.out is None or not self.is_writer:
            return None
        extra = {**self.extra, "epoch": self.state.epoch, "step": self.state.step,
                 "best_score": self.state.best_score, "best_epoch": self.state.best_epoch}
        if train_state is not None:
            extra["train_state"] = to_plain({**train_state, "run": self.state.to_dict()})
        model_metadata(model)  # fails early, naming the model, when it is not an effdet model
        return save_checkpoint(model, self.out / name, self.class_map, extra=extra,
                               )

    def end_epoch(self, model, row: dict[str, Any], train_state: dict[str, Any] | None = None
                  ) -> bool:
        """Close a validated epoch: count it, keep ``best.pt`` if `MONITOR` improved,
        write ``last.pt`` (with the epoch's row), then append the row to ``metrics.csv``;
        returns whether to stop early.

        ``model`` is the model users get (the EMA when there is one); ``row`` holds the
        epoch's losses and metrics; ``train_state`` what resuming needs besides the counters.
        """
        for check in self._checks:
            check()
        st = self.state
        st.epoch += 1
        if self.budget is not None:  # the budget used so far, in the row and the checkpoints
            row = {**row, "elapsed_s": round(self.budget.elapsed(), 3)}
            self.extra["time_budget"] = {**self.extra.get("time_budget", {}),
                                         "clock": self.budget.to_dict()}
        score = _finite(row.get(self.monitor))
        improved = score is not None and (st.best_score is None or score > st.best_score)
        if improved:
            st.best_score, st.best_epoch, st.bad_epochs = score, st.epoch, 0
            self._save(model, "best.pt")
        else:
            st.bad_epochs += 1
        stop = patient = self.patience is not None and st.bad_epochs >= self.patience
        if self.budget is not None:  # the budget's plan is done: the run ends here
            stop = stop or self.budget.finished(st.step)
        st.stopped_early = stop
        logged = {"epoch": st.epoch, "step": st.step, **row, "best": int(improved)}
        # last.pt first, holding the row: a kill before the row reaches metrics.csv loses
        # nothing (a resume writes the row from last.pt); the reverse order lost the epoch
        self._save(model, "last.pt", {**(train_state or {}), "row": logged})
        from efficientdet_adapter.training.interrupts import signal_after_checkpoint  # noqa: PLC0415

        signal_after_checkpoint(st.epoch)  # the tests' hook between the two writes
        if self.csv is not None:
            self.csv.append(logged)
        tb = self.tensorboard_log()
        if tb is not None:
            tb.row({"epoch": st.epoch, **row, "best": int(improved)}, st.step)
        if patient:
            logger.info("early stopping after epoch %d: no better %s for %d epochs (best %.4f "
                        "at epoch %d)", st.epoch, self.monitor, st.bad_epochs,
                        st.best_score if st.best_score is not None else float("nan"),
                        st.best_epoch)
        return stop
