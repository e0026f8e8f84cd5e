"""Safe extraction of an export ``.zip``: no entry outside the target folder, bounded size.

``zipfile.extractall`` would also strip ``..`` silently; here every suspicious entry is an error
that names it, links are refused, and both the entry count and the bytes actually written (not
only the sizes the archive declares, which a zip bomb can fake) are bounded.
"""

from __future__ import annotations

import os
import shutil
import stat
import zipfile
from pathlib import Path, PurePosixPath, PureWindowsPath

from ..errors import ParseError

__all__ = ["safe_extract", "MAX_ZIP_BYTES", "MAX_ZIP_ENTRIES"]

MAX_ZIP_BYTES = 16 * 1024**3  # 16 GiB uncompressed
MAX_ZIP_ENTRIES = 1_000_000
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


def safe_extract(
    zip_path: str | os.PathLike,
    target: str | os.PathLike,
    *,
    max_bytes: int = MAX_ZIP_BYTES,
    max_entries: int = MAX_ZIP_ENTRIES,
) -> Path:
    """Extract ``zip_path`` into the folder ``target`` and return it.

    The archive is extracted into a temporary sibling folder first and renamed into place, so
    ``target`` never holds half an export. When ``target`` already holds an extraction of the
    same zip (same name, size and modification time), it is reused as is.

    Raises:
        ParseError: not a zip file; an entry with ``..``, an absolute path or a link; more than
            ``max_entries`` entries or more than ``max_bytes`` uncompressed bytes; ``target``
            exists with other content.

    Example:
        >>> safe_extract("export.zip", "export")  # doctest: +SKIP
        PosixPath('export')
    """
    zip_path, target = Path(zip_path), Path(target)
    marker = target / _MARKER
    if marker.is_file() and marker.read_text(encoding="utf-8") == _signature(zip_path):
        return target
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
                        if written > max_bytes:
                            raise ParseError(
                                f"{zip_path}: more than {max_bytes} bytes when extracted (the "
                                "archive understates its sizes); refusing to extract it"
                            )
                        out.write(chunk)
            (partial / _MARKER).write_text(_signature(zip_path), encoding="utf-8")
            if target.exists():
                target.rmdir()  # empty (checked above)
            os.replace(partial, target)
        except (zipfile.BadZipFile, OSError) as e:
            raise ParseError(f"{zip_path}: extraction failed ({e})") from None
        finally:
            shutil.rmtree(partial, ignore_errors=True)
    return target
