"""A run's data and the split it used, recorded in its checkpoints so ``eval`` scores the same.

An export without a ``valid`` split is split by the run: 20% of ``train``, drawn with the run's
seed, validate (`hold_out`, the one rule). ``train`` records what it did in every
checkpoint, as ``extra["split"]`` (`RunSplit`): the rule, the seed and the held-out images'
file names. ``eval --split valid`` (or ``train``) on that export then scores exactly the run's
held-out images (or the images it trained on), whatever ``--seed`` the run had; a checkpoint
that does not say (an older one, an IceVision file) is named in one line before the numbers.

Example:
    >>> data = load_run_data("shapes.zip", seed=3)                      # doctest: +SKIP
    >>> data.split.rule, len(data.split.valid) == len(data.valid)       # doctest: +SKIP
    ('holdout', True)
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from efficientdet_adapter.base.errors import CheckpointError, UsageError

__all__ = ["HOLDOUT", "SPLIT_RULES", "RunSplit", "RunData", "hold_out", "load_run_data",
           "split_note"]

logger = logging.getLogger(__name__)

#: The share of ``train`` kept and held out when an export has no ``valid`` split.
HOLDOUT = (0.8, 0.2)
#: ``export``: the export's own valid split validated; ``holdout``: ``hold_out`` drew it.
SPLIT_RULES = ("export", "holdout")


def _name(record: Any) -> str:
    return Path(str(record.filepath)).name if record.filepath is not None \
        else str(record.record_id)


@dataclass(frozen=True)
class RunSplit:
    """Which images a run validated on (see the module docstring)."""

    rule: str
    seed: int
    valid: tuple[str, ...] = ()  # ``holdout``: the held-out images' file names

    def to_dict(self) -> dict[str, Any]:
        """Plain data, as saved in the checkpoints' ``extra["split"]``."""
        return {"rule": self.rule, "seed": self.seed, "valid": list(self.valid)}

    @classmethod
    def from_dict(cls, data: Any, where: str | Path) -> "RunSplit":
        """Read ``extra["split"]`` of the checkpoint ``where``.

        Raises:
            CheckpointError: not what ``train`` writes.
        """
        ok = (isinstance(data, Mapping) and data.get("rule") in SPLIT_RULES
              and isinstance(data.get("seed"), int) and not isinstance(data.get("seed"), bool)
              and isinstance(data.get("valid"), (list, tuple))
              and all(isinstance(v, str) for v in data["valid"]))
        if not ok:
            raise CheckpointError(f"{where}: extra.split is not a run's split (rule, seed, valid "
                                  "file names); the file was edited or damaged")
        return cls(data["rule"], data["seed"], tuple(data["valid"]))


def hold_out(train: Sequence[Any], seed: int) -> tuple[list, list]:
    """``(train, valid)``: `HOLDOUT` of ``train``'s records, drawn with ``seed``."""
    from efficientdet_adapter.records.splitters import RandomSplitter  # noqa: PLC0415

    by_id = {r.record_id: r for r in train}
    train_ids, valid_ids = RandomSplitter(list(HOLDOUT), seed=seed).split(train)
    return [by_id[i] for i in train_ids], [by_id[i] for i in valid_ids]


@dataclass
class RunData:
    """An export's splits as a run uses them, and how its valid split came to be."""

    train: list
    valid: list
    test: list
    class_map: Any
    parser: Any
    split: RunSplit


def load_run_data(data: str | Path, format: str = "auto", seed: int = 0, *,
                  check_images: bool = False, split: RunSplit | None = None) -> RunData:
    """The splits of a Roboflow-style export (folder or zip) or a YOLO ``data.yaml``, as a run
    uses them.

    Without a ``valid`` split, ``split`` (a run's, read from its checkpoint) says which train
    images the run held out (or, without their names, the seed that drew them); without
    ``split``, `hold_out` draws them with ``seed``.

    Raises:
        UsageError: no such export, no train images, images the run held out that the
            export's train split no longer has, or no valid split where the run had the export's.
    """
    from efficientdet_adapter.parsers.yolo_data import dataset_parser  # noqa: PLC0415
    from efficientdet_adapter.weights.hub import is_url  # noqa: PLC0415

    if is_url(str(data)):
        raise UsageError(f"--data {data}: URLs are not accepted; download the export and give "
                         "its folder or .zip")
    path = Path(data)
    if not path.exists():
        raise UsageError(f"--data {path}: no such folder or zip file (nor data.yaml)")
    parser = dataset_parser(path, format, check_images=check_images)
    splits = parser.parse_splits()
    train, valid, test = (splits.get(k, []) for k in ("train", "valid", "test"))
    if not train:
        raise UsageError(f"--data {path}: the export has no train split with images")
    if valid:
        return RunData(train, valid, test, parser.class_map, parser, RunSplit("export", seed))
    if split is not None and split.rule == "export":
        raise UsageError(f"--data {path}: has no valid split, but the run validated on its "
                         "export's own; evaluate on the run's export, or use --split test")
    if split is not None and split.valid:
        held = set(split.valid)
        valid = [r for r in train if _name(r) in held]
        missing = len(held - {_name(r) for r in valid})
        if missing:
            raise UsageError(f"--data {path}: {missing} of the {len(held)} images the run held "
                             "out for validation are not in its train split (another export?); "
                             "evaluate on the run's export, or use --split test")
        train = [r for r in train if _name(r) not in held]
        return RunData(train, valid, test, parser.class_map, parser, split)
    seed = seed if split is None else split.seed  # (a split without names: an older run's)
    train, valid = hold_out(train, seed)
    logger.info("no valid split: holding out %d of the train images", len(valid))
    return RunData(train, valid, test, parser.class_map, parser,
                   RunSplit("holdout", seed, tuple(_name(r) for r in valid)))


def split_note(extra: Mapping[str, Any] | None, where: str | Path) -> tuple[RunSplit | None, str]:
    """``(split, note)`` of a checkpoint's ``extra`` for ``eval``: the run's recorded split, else
    one built from its saved seed (``extra.options.seed``, the same `hold_out`), else
    ``None`` with the line that says the split cannot be known."""
    extra = extra or {}
    if "split" in extra:
        return RunSplit.from_dict(extra["split"], where), ""
    seed = (extra.get("options") or {}).get("seed") if isinstance(extra.get("options"),
                                                                  Mapping) else None
    if isinstance(seed, int) and not isinstance(seed, bool):
        return RunSplit("holdout", seed), ""  # an older run of train: its seed draws its split
    return None, (f"note: {where} does not record the split its run trained on (an older or "
                  "IceVision checkpoint); the export has no valid split, so 20% of train is held "
                  "out with seed 0 and may include images the model trained on")
