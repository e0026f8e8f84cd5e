"""Atomic files: every file the library writes for a user goes through here.

A file is written to a hidden temporary file in the same folder (``.<name>.<random>.tmp``),
flushed and fsync-ed, then renamed over ``path``: whoever reads ``path`` sees the earlier file
or the complete new one, never a partial one, whether the writer crashes, is killed or runs out
of disk. An ``OSError`` while writing (a full disk, a read-only folder) becomes a
[`SaveError`][efficientdet_adapter.base.errors.SaveError] that names the file and says the earlier one is
intact; the temporary file is removed. A process killed mid-save cannot remove its temporary
file: `remove_stale_temps` does, at the start of the next run in that folder.

Example:
    >>> atomic_write_text("runs/x/metrics.json", "{}")                    # doctest: +SKIP
    >>> with atomic_open("runs/x/model.pt") as f:                          # doctest: +SKIP
    ...     torch.save(data, f)
    >>> atomic_save("model.onnx", lambda tmp: torch.onnx.export(m, x, str(tmp)))  # doctest: +SKIP
"""

from __future__ import annotations

import errno
import os
import re
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

from efficientdet_adapter.base.errors import ArgumentError, SaveError

__all__ = ["atomic_open", "atomic_write_text", "atomic_write_bytes", "atomic_save",
           "atomic_torch_save", "remove_stale_temps", "TEMP_PATTERN"]

#: The names of this module's temporary files (``mkstemp``'s 8 random characters).
TEMP_PATTERN = re.compile(r"^\..+\.[A-Za-z0-9_]{8}\.tmp$")


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _save_error(path: Path, e: OSError) -> SaveError:
    why = e.strerror or str(e)
    fix = ("free some disk space and run again" if e.errno in (errno.ENOSPC, errno.EDQUOT)
           else "check the folder's permissions and free space")
    kept = "the earlier file is intact" if path.exists() else "nothing was written under that name"
    return SaveError(f"{path}: cannot write it ({why}); {kept}; {fix}")


def _finish(tmp: Path, path: Path) -> None:
    """fsync ``tmp``, give it the usual mode (``mkstemp`` makes it private), rename it."""
    with open(tmp, "rb") as f:
        os.fsync(f.fileno())
    os.chmod(tmp, 0o666 & ~_umask())
    os.replace(tmp, path)
    try:  # the rename itself survives a power cut once the folder is synced
        dir_fd = os.open(path.parent, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(dir_fd)
    except OSError:
        pass  # some file systems do not sync folders
    finally:
        os.close(dir_fd)


def _temp(path: Path) -> tuple[int, Path]:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    return fd, Path(tmp)


@contextmanager
def _replacing(path: Path) -> Iterator[tuple[int, Path]]:
    """A temporary file beside ``path`` (its descriptor and name) that replaces ``path`` when
    the block ends without error; removed otherwise. An ``OSError`` becomes one
    [`SaveError`][efficientdet_adapter.base.errors.SaveError] naming ``path`` (the earlier file stays
    whole)."""
    try:
        fd, tmp = _temp(path)
    except OSError as e:
        raise _save_error(path, e) from None
    try:
        yield fd, tmp
        _finish(tmp, path)
    except OSError as e:
        tmp.unlink(missing_ok=True)
        raise _save_error(path, e) from None
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


@contextmanager
def atomic_open(path: str | Path, mode: str = "wb", *, encoding: str | None = None
                ) -> Iterator[IO[Any]]:
    """A file object to write ``path`` with, renamed into place when the block ends.

    Raises:
        SaveError: an ``OSError`` while writing (``path`` keeps its earlier contents).
    """
    if mode not in ("wb", "w"):
        raise ArgumentError(f"atomic_open: mode {mode!r}; use 'wb' or 'w'")
    kwargs = {"encoding": encoding or "utf-8", "newline": ""} if mode == "w" else {}
    with _replacing(Path(path)) as (fd, _):
        with os.fdopen(fd, mode, **kwargs) as f:
            yield f
            f.flush()


def atomic_write_bytes(path: str | Path, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically; returns ``path``."""
    with atomic_open(path, "wb") as f:
        f.write(data)
    return Path(path)


def atomic_write_text(path: str | Path, text: str, encoding: str = "utf-8") -> Path:
    """Write ``text`` to ``path`` atomically; returns ``path``."""
    with atomic_open(path, "w", encoding=encoding) as f:
        f.write(text)
    return Path(path)


def atomic_save(path: str | Path, write: Callable[[Path], Any]) -> Path:
    """Atomically write ``path`` with a writer that needs a file name (``torch.onnx.export``,
    TorchScript's ``save``, PIL's and matplotlib's ``save``): ``write(tmp)`` writes the
    temporary file (its suffix is ``.tmp``: give such writers their format explicitly)."""
    path = Path(path)
    with _replacing(path) as (fd, tmp):
        os.close(fd)
        write(tmp)
    return path


def atomic_torch_save(data: Any, path: str | Path) -> Path:
    """``torch.save(data, path)`` atomically (checkpoints, resume states); returns ``path``.

    The data is serialized first: torch's zip writer turns a failed write into a
    ``RuntimeError`` about stream positions, not the disk's ``OSError`` (a
    [`SaveError`][efficientdet_adapter.base.errors.SaveError]).
    """
    import io  # noqa: PLC0415

    import torch  # noqa: PLC0415

    buffer = io.BytesIO()
    torch.save(data, buffer)
    with atomic_open(path, "wb") as f:
        f.write(buffer.getbuffer())
    return Path(path)


def remove_stale_temps(folder: str | Path) -> list[Path]:
    """Remove the temporary files that killed saves left in ``folder`` (not below it); returns
    them. Call it only while no other process writes there (a run holds the folder's lock)."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    removed = []
    for entry in folder.iterdir():
        if TEMP_PATTERN.match(entry.name) and entry.is_file() and not entry.is_symlink():
            try:
                entry.unlink()
            except OSError:
                continue
            removed.append(entry)
    return sorted(removed)
