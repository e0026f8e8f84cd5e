"""Exception classes of efficientdet_adapter.

Every error raised for bad user input is one of these, with a message that names the file (or the
object), the problem, and what to do about it. ``assert`` is never used for user input.
"""

from __future__ import annotations

__all__ = [
    "AdapterError",
    "ParseError",
    "UnsupportedFormatError",
    "InvalidDataError",
    "AutofixAbort",
    "ImageLoadError",
    "InvalidBBoxError",
    "ClassMapError",
    "BatchError",
    "WeightsError",
    "CheckpointError",
    "ModelConfigError",
    "NotAModelError",
    "ExportError",
    "UsageError",
    "TrainingError",
    "SaveError",
    "RunLockedError",
    "ArgumentError",
    "OptionError",
    "PathNotFoundError",
    "PathExistsError",
]


class AdapterError(Exception):
    """Base class of every error this library raises on purpose."""


class InvalidDataError(AdapterError, ValueError):
    """IceVision's ``InvalidDataError``: a record's data cannot be used as it is (for example
    a box whose corners are in the wrong order)."""


class ParseError(AdapterError, ValueError):
    """An annotation file is malformed, inconsistent or unsafe.

    The message always names the file and, where there is one, the annotation inside it.
    """


class UnsupportedFormatError(ParseError):
    """An export format (or a variant of one) that the parsers do not read."""


class AutofixAbort(InvalidDataError):
    """IceVision's ``AutofixAbort``: a record that autofix cannot mend (its image file is
    missing, its annotation lists differ in length); ``autofix_records`` drops it."""


class ImageLoadError(AdapterError, OSError):
    """An image file is missing, truncated, corrupt, or of a pixel type we cannot use."""


class InvalidBBoxError(InvalidDataError):
    """A bounding box is degenerate or lies outside its image."""


class ClassMapError(AdapterError, KeyError, ValueError):
    """A class name or id is unknown, or a name is added twice (a ``ValueError`` too, as
    IceVision's class map raised)."""

    def __str__(self) -> str:  # KeyError quotes its message; show it plainly instead
        return str(self.args[0]) if self.args else ""


class BatchError(AdapterError, ValueError):
    """Samples cannot be collated into a batch (for example, images of different sizes)."""


class WeightsError(AdapterError, RuntimeError):
    """Pretrained weights cannot be found, downloaded or matched to the model."""


class CheckpointError(WeightsError):
    """A checkpoint or weights file is missing, unreadable, of an unknown layout, or does not
    match the model (the one error of
    [`efficientdet_adapter.weights.state_dict`][efficientdet_adapter.weights.state_dict], the reader
    of every such file; a [`WeightsError`][efficientdet_adapter.base.errors.WeightsError], so one
    ``except`` catches both)."""


class ModelConfigError(AdapterError, ValueError):
    """A model name, class count, image size or effdet setting that cannot build a model."""


class NotAModelError(ModelConfigError, TypeError):
    """An object that is not (and does not wrap) a model from ``efficientdet.model``."""


class ExportError(AdapterError, RuntimeError):
    """A model cannot be exported to the asked format (the message names the format to use)."""


class UsageError(AdapterError, ValueError):
    """A command-line argument, option value or output path that cannot work.

    The message names the argument (``--batch-size 0``) or the path and says what to use
    instead. ``efficientdet-adapter`` prints it, like every
    [`AdapterError`][efficientdet_adapter.base.errors.AdapterError], as one line and
    exits with status 2.
    """


class TrainingError(AdapterError, RuntimeError):
    """Training cannot go on (a non-finite loss, say); the message names the epoch, the step,
    the learning rate and the checkpoint that was kept."""


class SaveError(AdapterError, OSError):
    """A file cannot be written (a full disk, a read-only folder); the message names the file
    and says that the earlier file under that name is intact (see `atomic`)."""


class RunLockedError(UsageError):
    """Another process is writing the same run folder (it holds the folder's lock file)."""


class ArgumentError(UsageError, TypeError):
    """A public function's argument of the wrong type or out of range (``batch_size="2"``,
    ``detection_threshold=5``, one path where a list is expected); the message names the
    argument and what to pass (see `arguments`)."""


class OptionError(ArgumentError):
    """A training option (a field of ``runs.TrainOptions``) of the wrong type or out of range.

    ``field``, ``value`` and ``expected`` say which option, what it holds and what it should
    hold, so that ``--resume`` can name the field of an edited ``last.pt`` with the same check.
    """

    def __init__(self, message: str, field: str = "", value: object = None,
                 expected: str = "") -> None:
        super().__init__(message)
        self.field, self.value, self.expected = field, value, expected


class PathNotFoundError(AdapterError, FileNotFoundError):
    """A file or folder named by the user does not exist (the message names it and says what to
    pass instead)."""


class PathExistsError(AdapterError, FileExistsError):
    """An output path already holds files this library did not write and will not overwrite
    (the message names them and says to choose another place)."""
