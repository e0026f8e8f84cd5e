"""TensorBoard scalars of a run, in ``RUN_DIR/tensorboard``, when tensorboard is installed.

[`RunTracker`][efficientdet_adapter.training.state.RunTracker] writes them for both engines (one
implementation): the training loss
of every optimizer step (``loss/train_loss_step``) and, at the step that ends each epoch, its
``metrics.csv`` row: losses under ``loss/``, the 12 COCO keys under ``COCO/``, per-class AP under
``AP per class/``, the rest (epoch, learning rate, seconds, best) under ``run/``. Tags keep the
names of ``metrics.csv``'s columns. A run opens its log with ``purge_step`` one past its step
count, so a resumed run hides what an interrupted epoch logged and a run with ``--exist-ok`` what
an earlier run did. Without tensorboard nothing is written (``pip install tensorboard``).

Example:
    >>> tensorboard_tag("AP (IoU=0.50) area=all"), tensorboard_tag("valid_loss")
    ('COCO/AP (IoU=0.50) area=all', 'loss/valid_loss')
    >>> tensorboard_tag("AP (IoU=0.50:0.95) area=all class=circle"), tensorboard_tag("lr")
    ('AP per class/circle', 'run/lr')
"""

from __future__ import annotations

import importlib.util
import logging
import math
from pathlib import Path
from typing import Any

__all__ = ["TensorBoardLog", "tensorboard_available", "tensorboard_tag"]

logger = logging.getLogger(__name__)

#: The tag of the per-step training loss.
STEP_LOSS = "loss/train_loss_step"


def tensorboard_available() -> bool:
    """Whether ``tensorboard`` (which ``torch.utils.tensorboard`` writes with) is installed."""
    return importlib.util.find_spec("tensorboard") is not None


def tensorboard_tag(key: str) -> str:
    """The TensorBoard tag of a ``metrics.csv`` column (see the module docstring)."""
    if " class=" in key:
        return "AP per class/" + key.split(" class=", 1)[1]
    if key.startswith(("AP (", "AR (")):
        return "COCO/" + key
    if key.endswith("loss"):
        return "loss/" + key
    return "run/" + key


class TensorBoardLog:
    """A ``SummaryWriter`` on ``log_dir`` that takes ``metrics.csv`` rows.

    Args:
        log_dir: the folder of the event files (created).
        purge_step: events at this step or later, from earlier writers of ``log_dir``, are
            hidden (TensorBoard's ``purge_step``): a resumed run passes its step count + 1.
    """

    def __init__(self, log_dir: str | Path, purge_step: int | None = None) -> None:
        from torch.utils.tensorboard import SummaryWriter  # noqa: PLC0415

        self.log_dir = Path(log_dir)
        self.writer = SummaryWriter(str(self.log_dir), purge_step=purge_step)

    def scalar(self, tag: str, value: Any, step: int) -> None:
        """One scalar; ``None`` and non-finite values are left out."""
        try:
            value = float(value)
        except (TypeError, ValueError):
            return
        if math.isfinite(value):
            self.writer.add_scalar(tag, value, global_step=step)

    def row(self, row: dict[str, Any], step: int) -> None:
        """Every number of a ``metrics.csv`` row at ``step``, then flushed to disk."""
        for key, value in row.items():
            if key != "step":
                self.scalar(tensorboard_tag(key), value, step)
        self.writer.flush()

    def close(self) -> None:
        self.writer.close()
