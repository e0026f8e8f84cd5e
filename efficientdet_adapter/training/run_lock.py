"""One run per folder: the lock file that a training run holds on its ``--out`` folder.

``train`` (and ``train --resume``) takes ``<out>/.run.lock`` before it checks or writes anything
there and removes it when it ends, however it ends short of being killed. The file names the
process (``pid``, ``host``, start time); it is created whole or not at all (written beside, then
hard-linked into place), so a second run never reads half a lock. A second ``train`` into the same
folder finds the lock, sees that its process is alive and stops with one line
([`RunLockedError`][efficientdet_adapter.errors.RunLockedError]). A lock whose process is gone (a
run
killed with SIGKILL, a power cut) is stale: the next run says so in the log, takes it over and
removes the temporary files the killed run's saves left (see `efficientdet_adapter.atomic`).
A lock taken on another host cannot be checked from here and counts as held: the message says
to remove it by hand if that run is over.

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

from ..atomic import remove_stale_temps
from ..errors import RunLockedError, UsageError

__all__ = ["LOCK_NAME", "RunLock", "hold_run_folder", "process_alive"]

logger = logging.getLogger(__name__)

#: The lock file's name inside a run folder.
LOCK_NAME = ".run.lock"


def process_alive(pid: int) -> bool:
    """Whether a process with this id exists on this host."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # it exists, owned by someone else
        return True
    return True


def _read(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) and isinstance(data.get("pid"), int) else None


class RunLock:
    """The lock on one run folder; `acquire` it, `release` it (or use
    `hold_run_folder`)."""

    def __init__(self, folder: str | Path, option: str = "--out") -> None:
        self.folder = Path(folder)
        self.path = self.folder / LOCK_NAME
        self.option = option
        self.held = False
        self.stale_temps: list[Path] = []

    def _create(self) -> bool:
        """Create the lock file with our details in one step; ``False`` if it exists."""
        info = {"pid": os.getpid(), "host": socket.gethostname(),
                "started": time.strftime("%Y-%m-%d %H:%M:%S")}
        tmp = self.folder / f"{LOCK_NAME}.{os.getpid()}.new"
        tmp.write_text(json.dumps(info), encoding="utf-8")
        try:
            os.link(tmp, self.path)
            return True
        except FileExistsError:
            return False
        except OSError:  # a file system without hard links: an exclusive create instead
            try:
                fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                return False
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                f.write(json.dumps(info))
            return True
        finally:
            tmp.unlink(missing_ok=True)

    def acquire(self) -> "RunLock":
        """Take the folder's lock (taking over a stale one) and clean what killed saves left.

        Raises:
            RunLockedError: another live process holds it.
        """
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise UsageError(f"{self.option} {self.folder}: cannot create it ({e.strerror or e}); "
                             "choose a writable folder") from None
        for _ in range(3):
            try:
                created = self._create()
            except OSError as e:
                raise UsageError(f"{self.option} {self.folder}: cannot write its lock file "
                                 f"({e.strerror or e}); choose a writable folder") from None
            if created:
                self.held = True
                self.stale_temps = remove_stale_temps(self.folder)
                for path in self.stale_temps:
                    logger.info("removed %s, left by a save that was killed", path)
                return self
            holder = _read(self.path)
            here = holder is not None and holder.get("host") == socket.gethostname()
            if holder is None or (here and not process_alive(holder["pid"])):
                if holder is None and time.time() - self._mtime() < 5:
                    time.sleep(0.2)  # being written by a run that starts this instant
                    continue
                logger.warning("%s: taking over a stale lock (%s)", self.path,
                               "unreadable" if holder is None else f"process {holder['pid']} "
                               "has ended")
                self.path.unlink(missing_ok=True)
                continue
            raise RunLockedError(
                f"{self.option} {self.folder}: another run (process {holder['pid']} on "
                f"{holder.get('host')}, started {holder.get('started')}) is writing this folder; "
                "wait for it to end or choose another --out"
                + ("" if here else f" (if that run is over, delete {self.path})"))
        raise RunLockedError(f"{self.option} {self.folder}: its lock {self.path} keeps changing "
                             "hands; another run is starting there, choose another --out")

    def _mtime(self) -> float:
        try:
            return self.path.stat().st_mtime
        except OSError:
            return 0.0

    def release(self) -> None:
        """Remove the lock file if this process holds it."""
        if not self.held:
            return
        holder = _read(self.path)
        if holder is not None and holder.get("pid") == os.getpid():
            self.path.unlink(missing_ok=True)
        self.held = False


@contextmanager
def hold_run_folder(folder: str | Path, option: str = "--out") -> Iterator[RunLock]:
    """Hold ``folder``'s run lock for the block (see the module docstring)."""
    lock = RunLock(folder, option).acquire()
    try:
        yield lock
    finally:
        lock.release()
