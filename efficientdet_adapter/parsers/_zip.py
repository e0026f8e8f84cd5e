"""Safe extraction of an export ``.zip``: no entry outside the target folder, bounded size.

``zipfile.extractall`` would also strip ``..`` silently; here every suspicious entry is an error
that names it, links are refused, and both the entry count and the bytes actually written (not
only the sizes the archive declares, which a zip bomb can fake) are bounded: by ``max_bytes``,
and by ``max_ratio`` times the zip's own size (a real export, mostly JPEG/PNG, expands about 1x;
its JSON or XML at most some 20x; a zip bomb 1000x and more).

Extraction goes into a hidden ``.<target>.partial-<pid>`` folder that is renamed into place at the
end. Several processes may extract the same zip at once (DataLoader workers, parallel test runs):
a lock file serializes them, and the later ones reuse the first one's extraction. A partial
folder left by a process that was killed is removed by the next extraction.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import stat
import zipfile
from collections.abc import Iterator
from pathlib import Path, PurePosixPath, PureWindowsPath

from efficientdet_adapter.base.errors import ParseError

__all__ = ["safe_extract", "MAX_ZIP_BYTES", "MAX_ZIP_ENTRIES", "MAX_ZIP_RATIO"]

logger = logging.getLogger(__name__)

MAX_ZIP_BYTES = 16 * 1024**3  # 16 GiB uncompressed
MAX_ZIP_ENTRIES = 1_000_000
MAX_ZIP_RATIO = 100  # uncompressed bytes per byte of zip, beyond the allowance below
_RATIO_ALLOWANCE = 64 * 1024**2  # a small zip of text may expand far more than 100x
_MARKER = ".extracted_from_zip"
_CHUNK = 1 << 20


def _member_parts(zip_path: Path, info: zipfile.ZipInfo) -> list[str]:
    """The path components of one entry, refusing anything that could leave the target."""
    name = info.filename
    unsafe = (
        name.startswith(("/", "\\"))
        or PureWindowsPath(name).drive
        or any(p == ".." for p in name.replace("\\", "/").split("/"))
        or "\x00" in name
    )
    if unsafe:
        raise ParseError(
            f"{zip_path}: entry {name!r} would be written outside the extraction folder "
            "('..' or an absolute path; a 'zip-slip' archive); refusing to extract it. "
            "Re-download the export or extract it yourself after checking it"
        )
    mode = info.external_attr >> 16
    if stat.S_ISLNK(mode):
        raise ParseError(f"{zip_path}: entry {name!r} is a symbolic link; links are not extracted")
    return [p for p in PurePosixPath(name.replace("\\", "/")).parts if p not in ("", ".")]


def _signature(zip_path: Path) -> str:
    st = zip_path.stat()
    return f"{zip_path.name} {st.st_size} {st.st_mtime_ns}\n"


def _pid_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):  # exists but not ours, or cannot tell: leave it
        return True
    return True


def _remove_stale_partials(target: Path) -> None:
    """Remove ``.<target>.partial-<pid>`` folders whose process no longer runs (killed)."""
    prefix = f".{target.name}.partial-"
    try:
        names = os.listdir(target.parent)
    except OSError:
        return
    for name in names:
        pid = name[len(prefix):] if name.startswith(prefix) else ""
        if pid.isdigit() and not _pid_alive(int(pid)):
            logger.warning("removing %s, left by an extraction that was killed",
                           target.parent / name)
            shutil.rmtree(target.parent / name, ignore_errors=True)


@contextlib.contextmanager
def _extraction_lock(target: Path) -> Iterator[None]:
    """An exclusive lock on ``.<target>.lock`` beside ``target`` (POSIX; elsewhere no lock: a
    lost race is then recovered after the rename, see `safe_extract`)."""
    try:
        import fcntl  # noqa: PLC0415
    except ImportError:  # pragma: no cover - Windows
        yield
        return
    target.parent.mkdir(parents=True, exist_ok=True)
    with open(target.parent / f".{target.name}.lock", "a+b") as f:
        fcntl.flock(f.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f.fileno(), fcntl.LOCK_UN)


def _already_extracted(zip_path: Path, target: Path) -> bool:
    marker = target / _MARKER
    try:
        return marker.is_file() and marker.read_text(encoding="utf-8") == _signature(zip_path)
    except OSError:
        return False


def safe_extract(
    zip_path: str | os.PathLike,
    target: str | os.PathLike,
    *,
    max_bytes: int = MAX_ZIP_BYTES,
    max_entries: int = MAX_ZIP_ENTRIES,
    max_ratio: float = MAX_ZIP_RATIO,
) -> Path:
    """Extract ``zip_path`` into the folder ``target`` and return it.

    The archive is extracted into a temporary sibling folder first and renamed into place, so
    ``target`` never holds half an export. When ``target`` already holds an extraction of the
    same zip (same name, size and modification time), it is reused as is.

    Raises:
        ParseError: not a zip file; an entry with ``..``, an absolute path or a link; more than
            ``max_entries`` entries, more than ``max_bytes`` uncompressed bytes, or more than
            ``max_ratio`` times the zip's size (beyond the first 64 MiB); ``target`` exists
            with other content.

    Example:
        >>> safe_extract("export.zip", "export")  # doctest: +SKIP
        PosixPath('export')
    """
    zip_path, target = Path(zip_path), Path(target)
    if _already_extracted(zip_path, target):
        return target
    with _extraction_lock(target):
        if _already_extracted(zip_path, target):  # another process finished while we waited
            return target
        _remove_stale_partials(target)
        return _extract(zip_path, target, max_bytes, max_entries, max_ratio)


def _extract(zip_path: Path, target: Path, max_bytes: int, max_entries: int,
             max_ratio: float) -> Path:
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise ParseError(
            f"{zip_path}: cannot extract into {target}, which already exists with other "
            "content; pass that folder instead of the zip, or choose extract_dir=..."
        )
    try:
        archive = zipfile.ZipFile(zip_path)
    except (zipfile.BadZipFile, OSError) as e:
        raise ParseError(f"{zip_path}: not a readable zip file ({e})") from None
    partial = target.with_name(f".{target.name}.partial-{os.getpid()}")
    with archive:
        infos = archive.infolist()
        if len(infos) > max_entries:
            raise ParseError(
                f"{zip_path}: {len(infos)} entries, more than the limit of {max_entries}; "
                "pass a larger max_zip_entries if this export is genuine"
            )
        plan = [(info, _member_parts(zip_path, info)) for info in infos]
        declared = sum(info.file_size for info in infos)
        if declared > max_bytes:
            raise ParseError(
                f"{zip_path}: {declared} bytes uncompressed, more than the limit of {max_bytes}; "
                "pass a larger max_zip_bytes if this export is genuine"
            )
        zip_size = zip_path.stat().st_size
        by_ratio = int(max_ratio * zip_size) + _RATIO_ALLOWANCE
        if declared > by_ratio:
            raise ParseError(
                f"{zip_path}: {zip_size} bytes that expand to {declared} bytes "
                f"({declared / max(zip_size, 1):.0f} times; the limit is {max_ratio:g} times "
                "beyond the first 64 MiB): a zip bomb? Pass a larger max_zip_ratio if this "
                "export is genuine"
            )
        limit = min(max_bytes, by_ratio)
        shutil.rmtree(partial, ignore_errors=True)
        partial.mkdir(parents=True)
        written = 0
        try:
            for info, parts in plan:
                if not parts:
                    continue
                dest = partial.joinpath(*parts)
                if info.is_dir():
                    dest.mkdir(parents=True, exist_ok=True)
                    continue
                dest.parent.mkdir(parents=True, exist_ok=True)
                with archive.open(info) as src, open(dest, "wb") as out:
                    while chunk := src.read(_CHUNK):
                        written += len(chunk)
                        if written > limit:
                            raise ParseError(
                                f"{zip_path}: more than {limit} bytes when extracted (the "
                                "archive understates its sizes: a zip bomb?); refusing to "
                                "extract it"
                            )
                        out.write(chunk)
            (partial / _MARKER).write_text(_signature(zip_path), encoding="utf-8")
            if target.exists():
                target.rmdir()  # empty (checked above)
            try:
                os.replace(partial, target)  # noqa: TID251
            except OSError:
                if not _already_extracted(zip_path, target):  # not a lost race: a real error
                    raise
        except (zipfile.BadZipFile, OSError) as e:
            raise ParseError(f"{zip_path}: extraction failed ({e})") from None
        finally:
            shutil.rmtree(partial, ignore_errors=True)
    return target
