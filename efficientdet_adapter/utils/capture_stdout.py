"""IceVision 0.12's ``icevision.utils.capture_stdout``: ``CaptureStdout``."""

from __future__ import annotations

import io
import sys
from typing import Any

__all__ = ["CaptureStdout"]


class CaptureStdout(list):
    """A context manager that collects what is printed inside it, one item per line; nested,
    the inner one keeps its lines unless ``propagate_stdout=True`` (then it prints them again
    on leaving, to the outer one).

    Example:
        >>> with CaptureStdout() as out:
        ...     print("a"); print("b")
        >>> out
        ['a', 'b']
    """

    def __init__(self, propagate_stdout: bool = False) -> None:
        super().__init__()
        self.propagate_stdout = propagate_stdout

    def __enter__(self) -> "CaptureStdout":
        self._previous = sys.stdout
        self._buffer = io.StringIO()
        sys.stdout = self._buffer
        return self

    def __exit__(self, *exc: Any) -> None:
        sys.stdout = self._previous
        self.extend(self._buffer.getvalue().splitlines())
        del self._buffer
        if self.propagate_stdout:
            print("\n".join(self))
