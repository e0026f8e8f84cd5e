"""Safe file names: image paths read from annotation files must stay inside the image folder."""

from __future__ import annotations

import os
from pathlib import Path, PureWindowsPath

from efficientdet_adapter.base.errors import ParseError

__all__ = ["safe_join", "FolderListing"]

# ``Path._make_child_relpath`` (what ``Path.iterdir`` uses) joins a plain name ~8x faster than
# ``folder / name``, which re-parses the whole path; it matters for 100k+ images. It is private,
# so it is used only where present and only after checking that it gives the same path.
_make_child = getattr(Path, "_make_child_relpath", None)
if _make_child is not None:
    try:
        if _make_child(Path("a/b"), "c.jpg") != Path("a/b") / "c.jpg":
            _make_child = None
    except Exception:  # pragma: no cover - a Python whose private helper changed
        _make_child = None


def safe_join(folder: Path, name: str, *, annotation: str | os.PathLike) -> Path:
    """``folder / name``, refusing a ``name`` that would land outside ``folder``.

    The check is lexical (no file system access, so it stays fast on 100k names): an absolute
    path, a Windows drive or UNC path, or any ``..`` component is rejected. Sub-folders
    (``"sub/img.jpg"``) are allowed.

    Args:
        folder: the image folder.
        name: the file name as written in the annotation.
        annotation: the annotation file (or ``"file.json, image id 3"``) named in the error.

    Raises:
        ParseError: naming ``annotation`` and the offending ``name``.

    Example:
        >>> safe_join(Path("imgs"), "a.jpg", annotation="a.xml").as_posix()
        'imgs/a.jpg'
    """
    if not isinstance(name, str) or not name.strip():
        raise ParseError(f"{annotation}: image file name is empty or not a string ({name!r})")
    if "/" not in name and "\\" not in name and name not in (".", ".."):  # a plain file name
        return _make_child(folder, name) if _make_child is not None else folder / name
    parts = name.replace("\\", "/").split("/")
    if name.startswith(("/", "\\")) or PureWindowsPath(name).drive or ".." in parts:
        raise ParseError(
            f"{annotation}: image file name {name!r} points outside the image folder {folder} "
            "('..' or an absolute path); annotation files may only name images inside that "
            "folder: fix the file name"
        )
    return folder.joinpath(*[p for p in parts if p not in ("", ".")])


class FolderListing:
    """Which files exist, with one ``os.listdir`` per folder instead of one ``stat`` per file.

    Example:
        >>> FolderListing().exists(Path("/nonexistent/folder/a.jpg"))
        False
    """

    def __init__(self) -> None:
        self._names: dict[str, frozenset[str]] = {}

    def names(self, folder: str | os.PathLike) -> frozenset[str]:
        """The entry names of ``folder`` (empty when it does not exist)."""
        key = os.fspath(folder)
        found = self._names.get(key)
        if found is None:
            try:
                found = frozenset(os.listdir(key or "."))
            except OSError:
                found = frozenset()
            self._names[key] = found
        return found

    def exists(self, path: str | os.PathLike) -> bool:
        folder, _, name = os.fspath(path).rpartition(os.sep)
        if not folder and os.path.isabs(os.fspath(path)):
            folder = os.sep
        return name in self.names(folder)
