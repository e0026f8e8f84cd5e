"""Where training starts: the ``weights`` choices, their check at the door, and the record a run
keeps of the start it used.

``weights`` (``train --weights``, ``efficientdet.model(weights=...)``, ``TrainOptions.weights``):

* ``"auto"`` (``train``'s default): effdet's COCO-pretrained detector when its file is in torch
  hub's cache or the hub answers within seconds, otherwise the packaged ImageNet backbone
  (``pretrained_backbone="auto"``), otherwise random weights;
* ``"coco"``: effdet's COCO-pretrained detector (``pretrained=True``), class head new;
* ``"none"``: effdet's random initialization;
* a checkpoint file of this library (``model.pt``, ``best.pt``, ``last.pt``) or of IceVision, or a
  run folder (its `RUN_DIR_FILES`, the first found): every tensor, and the class head's rows
  by class name.

The loading itself is
[`efficientdet_adapter.model.transfer`][efficientdet_adapter.model.transfer]; this module
imports neither
torch nor effdet, so the command line checks ``--weights`` (and ``--help`` lists it) cheaply.

Example:
    >>> check_weights("coco")
    'coco'
    >>> start = Start("runs/a", "checkpoint", "runs/a/best.pt", kept=("cat",), new=("dog",),
    ...               note="run folder runs/a: its best.pt")
    >>> start.line()
    'start (weights runs/a): runs/a/best.pt (run folder runs/a: its best.pt); class head:
    1 kept (cat), 1 new (dog), 0 dropped'
    >>> Start.from_dict(start.to_dict(), "last.pt") == start
    True
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from os import PathLike
from pathlib import Path
from typing import Any, Literal, Union, get_args

from efficientdet_adapter.base.choices import BACKBONE_NONE
from efficientdet_adapter.base.errors import CheckpointError, WeightsError

__all__ = ["WeightsChoice", "WEIGHTS_CHOICES", "START_KINDS", "RUN_DIR_FILES",
           "BACKBONE_UNCHOSEN", "Start", "check_weights", "run_folder_file"]

#: The named starts; any other ``weights`` value is a checkpoint file or a run folder.
WeightsChoice = Literal["auto", "coco", "none"]
WEIGHTS_CHOICES: tuple[str, ...] = get_args(WeightsChoice)
#: What a run started from, as ``Start.kind`` records it.
START_KINDS = ("coco", "checkpoint", "backbone", "none")
#: The file a run folder given as ``weights`` starts from: the first of these that exists.
RUN_DIR_FILES = ("best.pt", "model.pt", "last.pt")
#: ``pretrained_backbone`` values that leave the backbone to ``weights`` (the command line's
#: default ``"auto"``, the Python API's ``False``/``None``).
BACKBONE_UNCHOSEN = (None, False, "auto")
_NO_BACKBONE = BACKBONE_NONE

Weights = Union[str, PathLike]


def _shown(option: str, value: Any) -> str:
    return f"{option} {value}" if option.startswith("--") else f"{option}={str(value)!r}"


def run_folder_file(folder: str | PathLike, option: str = "weights") -> Path:
    """The checkpoint a run folder starts from: the first of `RUN_DIR_FILES` in it.

    Raises:
        WeightsError: the folder holds none of them.
    """
    folder = Path(folder)
    for name in RUN_DIR_FILES:
        if (folder / name).is_file():
            return folder / name
    raise WeightsError(f"{_shown(option, folder)}: the folder holds no {', '.join(RUN_DIR_FILES)};"
                       " give the --out folder of a train run or a checkpoint file")


def check_weights(weights: Weights, pretrained_backbone: Any = "auto", *,
                  option: str = "weights") -> str | Path:
    """``weights`` checked before any work: one of `WEIGHTS_CHOICES`, or the checkpoint
    file it names (a run folder's [`run_folder_file`][efficientdet_adapter.weights.start.run_folder_file]).

    ``pretrained_backbone`` may name a backbone only with ``"auto"`` (then the backbone is the
    start, as before ``weights`` existed) or agree with ``"none"``: the COCO detector and a
    checkpoint bring their own backbone.

    Args:
        weights: the choice, a file or a run folder.
        pretrained_backbone: the backbone choice given beside it.
        option: how the caller names the argument in messages (``weights``, ``--weights``).

    Raises:
        WeightsError: no such choice, file or run folder, or a backbone that contradicts it.
    """
    if isinstance(weights, bool) or not isinstance(weights, (str, PathLike)) or not str(weights):
        raise WeightsError(f"{option}={weights!r}: pass one of {', '.join(WEIGHTS_CHOICES)}, a "
                           "checkpoint file or a run folder")
    text = str(weights)
    if text in WEIGHTS_CHOICES:
        choice: str | Path = text
    elif Path(text).is_dir():
        choice = run_folder_file(text, option)
    elif Path(text).is_file():
        choice = Path(text)
    else:
        raise WeightsError(f"{_shown(option, text)}: neither {', '.join(WEIGHTS_CHOICES)}, a "
                           "checkpoint file nor a run folder (no such path); give model.pt/"
                           "best.pt/last.pt, an IceVision checkpoint or a train --out folder")
    backbone = pretrained_backbone.lower() if isinstance(pretrained_backbone, str) \
        else pretrained_backbone
    agrees = backbone in BACKBONE_UNCHOSEN or choice == "auto" or (
        choice == "none" and (backbone in _NO_BACKBONE or backbone is False))
    if not agrees:
        what = ("random weights" if choice == "none" else
                "the COCO detector, backbone included" if choice == "coco" else
                f"the weights of {choice}, backbone included")
        flag = "--pretrained-backbone" if option.startswith("--") else "pretrained_backbone"
        raise WeightsError(
            f"{_shown(option, text)} and {_shown(flag, pretrained_backbone)} disagree: the first "
            f"means {what}. Leave out {flag}, or give it with {_shown(option, 'auto')} to start "
            "from that backbone alone")
    return choice


@dataclass(frozen=True)
class Start:
    """The start a model was built from, as ``best.pt``/``last.pt``/``model.pt`` keep it
    (``extra["start"]``) and the run's start line says it.

    Attributes:
        weights: what was asked (``"auto"``, ``"coco"``, ``"none"``, a file or a folder).
        kind: one of `START_KINDS`.
        source: the file, URL or package the weights came from (empty for ``"none"``).
        kept, new, dropped: class names whose class-head rows came from the file, were
            initialized as effdet does (prior bias), or were in the file only.
        note: why ``auto`` chose this start, or which file of a run folder.
    """

    weights: str
    kind: str
    source: str = ""
    kept: tuple[str, ...] = ()
    new: tuple[str, ...] = ()
    dropped: tuple[str, ...] = ()
    note: str = ""

    def line(self) -> str:
        """The one line a run prints about its start."""
        note = f" ({self.note})" if self.note else ""
        if self.kind == "coco":
            what = (f"effdet's COCO-pretrained detector ({self.source}){note}; class head new"
                    + (f" for {len(self.new)} classes" if self.new else ""))
        elif self.kind == "checkpoint":
            what = (f"{self.source}{note}; class head: {_names(self.kept, 'kept')}, "
                    f"{_names(self.new, 'new')}, {_names(self.dropped, 'dropped')}")
        elif self.kind == "backbone":
            what = f"backbone {self.source}, the rest random{note}"
        else:
            what = f"random weights{note}"
        return f"start (weights {self.weights}): {what}"

    def to_dict(self) -> dict[str, Any]:
        """Plain data, as the checkpoints keep it."""
        return {k: list(v) if isinstance(v, tuple) else v
                for k, v in dataclasses.asdict(self).items()}

    @classmethod
    def from_dict(cls, data: Any, where: str | PathLike) -> "Start":
        """The record of [`to_dict`][efficientdet_adapter.weights.start.Start.to_dict], read back from
        ``where`` (a checkpoint).

        Raises:
            CheckpointError: a record that is not what a run writes.
        """
        fields = {f.name: f for f in dataclasses.fields(cls)}
        ok = isinstance(data, Mapping) and set(data) <= set(fields) \
            and {"weights", "kind"} <= set(data) and data.get("kind") in START_KINDS
        if ok:
            for key, value in data.items():
                names = isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value)
                ok = ok and (names if key in ("kept", "new", "dropped") else isinstance(value, str))
        if not ok:
            raise CheckpointError(f"{where}: extra.start is not a start record ({str(data)[:80]});"
                                  " the file was edited or damaged; use an intact checkpoint")
        return cls(**{k: tuple(v) if isinstance(v, (list, tuple)) else v for k, v in data.items()})


def _names(names: tuple[str, ...], what: str) -> str:
    if not names:
        return f"0 {what}"
    shown = ", ".join(names[:5]) + (", ..." if len(names) > 5 else "")
    return f"{len(names)} {what} ({shown})"
