"""One run per folder: the lock that a training run holds on its ``--out`` folder.

``train`` (and ``train --resume``, ``demo``) locks ``<out>/.run.lock`` before it checks or writes
anything there, with `filelock`: a lock the kernel holds for the process (``flock``), so it
is released whenever the process ends, however it ends (SIGKILL, a power cut, a container
restart) and no pid or host has to be judged afterwards. A second ``train`` into the same folder
finds it held and stops with one line
([`RunLockedError`][efficientdet_adapter.base.errors.RunLockedError])
naming the folder and, from the lock file's text, the process that holds it. A lock file that
no process holds is free, whatever it says (the pid of this very process after a restart, a pid
now used by another program, damaged text): the next run takes it. Taking it also removes the
temporary files that killed saves left (see `efficientdet_adapter.base.atomic`).

The file stays in the folder after the run (empty): deleting it while another process may be
opening it would let two runs lock two different files of the same name.

Example:
    >>> with hold_run_folder("runs/x"):          # doctest: +SKIP
    ...     train(...)
"""

from __future__ import annotations

import json
import logging
import os
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from filelock import FileLock, Timeout

from efficientdet_adapter.base.atomic import remove_stale_temps
from efficientdet_adapter.base.errors import RunLockedError, UsageError

__all__ = ["LOCK_NAME", "RunLock", "hold_run_folder"]

logger = logging.getLogger(__name__)

#: The lock file's name inside a run folder.
LOCK_NAME = ".run.lock"


def _holder(path: Path) -> str:
    """Who the lock file says holds it: ``process 12 on host, started ...`` (or ``unknown``)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8")[:4096])
    except (OSError, ValueError):
        return "process unknown"
    if not isinstance(data, dict) or isinstance(data.get("pid"), bool) \
            or not isinstance(data.get("pid"), int) or not 0 < data["pid"] < 2**32:
        return "process unknown"
    text = [f"process {data['pid']}"]
    for key, word in (("host", "on"), ("started", "started")):
        if isinstance(data.get(key), str) and data[key].isprintable() and len(data[key]) < 100:
            text.append(f"{word} {data[key]}")
    return text[0] + " " + ", ".join(text[1:]) if len(text) > 1 else text[0]


class RunLock:
    """The lock on one run folder; `acquire` it, `release` it (or use
    `hold_run_folder`)."""

    def __init__(self, folder: str | Path, option: str = "--out") -> None:
        self.folder = Path(folder)
        self.path = self.folder / LOCK_NAME
        self.option = option
        self.held = False
        self.stale_temps: list[Path] = []
        self._lock: Any = None

    def _check_path(self) -> None:
        """A lock path that is a folder: removed when empty, else refused."""
        if self.path.is_dir() and not self.path.is_symlink():
            try:
                self.path.rmdir()
                logger.warning("%s: removed an empty folder in place of the lock file", self.path)
            except OSError:
                raise UsageError(f"{self.option} {self.folder}: its lock file {self.path} is a "
                                 "folder; move that folder away and run again") from None

    def acquire(self) -> "RunLock":
        """Take the folder's lock and clean what killed saves left.

        Raises:
            RunLockedError: another live process holds it.
            UsageError: the folder or its lock file cannot be written.
        """
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise UsageError(f"{self.option} {self.folder}: cannot create it ({e.strerror or e}); "
                             "choose a writable folder") from None
        self._check_path()
        holder = _holder(self.path)  # read first: an older filelock empties it as it tries
        lock = FileLock(str(self.path), timeout=0)
        try:
            lock.acquire()
        except Timeout:
            now = _holder(self.path)
            shown = now if now != "process unknown" else holder
            raise RunLockedError(
                f"{self.option} {self.folder}: another run ({shown}) is writing this folder; "
                "wait for it to end or choose another --out") from None
        except OSError as e:
            raise UsageError(f"{self.option} {self.folder}: cannot write its lock file {self.path} "
                             f"({e.strerror or e}); choose a writable folder") from None
        self._lock, self.held = lock, True
        self._write({"pid": os.getpid(), "host": socket.gethostname(),
                     "started": time.strftime("%Y-%m-%d %H:%M:%S")})
        self.stale_temps = remove_stale_temps(self.folder)
        for path in self.folder.glob(f"{LOCK_NAME}.*.new"):  # left by versions before filelock
            path.unlink(missing_ok=True)
            self.stale_temps.append(path)
        for path in self.stale_temps:
            logger.info("removed %s, left by a save that was killed", path)
        return self

    def _write(self, info: dict[str, Any] | None) -> None:
        """Who holds the lock, for a second run's message (in place: the locked file itself,
        not a replacement, which would be another file that no one locked)."""
        try:
            fd = os.open(self.path, os.O_WRONLY | os.O_TRUNC)
        except OSError:
            return  # the message then says "process unknown"; the lock holds all the same
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write("" if info is None else json.dumps(info))

    def release(self) -> None:
        """Release the lock if this process holds it (the empty file stays)."""
        if not self.held:
            return
        self._write(None)
        self._lock.release()
        self._lock, self.held = None, False


@contextmanager
def hold_run_folder(folder: str | Path, option: str = "--out") -> Iterator[RunLock]:
    """Hold ``folder``'s run lock for the block (see the module docstring)."""
    lock = RunLock(folder, option).acquire()
    try:
        yield lock
    finally:
        lock.release()
