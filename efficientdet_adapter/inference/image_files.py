"""Image files as a user hands them over: files and folders listed (folders recursively, by the
one lister), the warning when tiling would cut an image into very many tiles, and the loop that
skips files that cannot be read (the others predicted). ``predict_files`` (in
[`prediction`][efficientdet_adapter.inference.prediction]) puts them together for the command
line's ``predict`` and ``efficientdet.predict(model, "photos/")``."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from efficientdet_adapter.base.errors import ImageLoadError, UsageError
from efficientdet_adapter.base.terminal import printable
from efficientdet_adapter.records.images import IMAGE_EXTENSIONS, image_size, list_image_files
from efficientdet_adapter.records.predictions import Prediction

__all__ = ["DEFAULT_MAX_PIXELS", "TILE_WARN_COUNT", "FilePredictions", "image_files",
           "tile_count_warning", "readable_runs", "report_skipped", "is_file_input", "inside"]

logger = logging.getLogger(__name__)

#: Images above this many pixels are refused before any work (``predict --max-pixels``'s
#: default). Peak memory grows with the pixels of the largest image (decoding and resizing it:
#: about 30 bytes a pixel, 36 Mpx in 1.2-1.5 GB; annotated copies are drawn at most 2048 px a
#: side). ``bench/predict_memory.py`` measures it.
DEFAULT_MAX_PIXELS = 50_000_000
#: Tiling an image into more than this many tiles gets a warning that states the count.
TILE_WARN_COUNT = 400


def inside(path: Path, folder: Path) -> bool:
    """``path`` is ``folder`` or lies below it (after resolving links)."""
    path, folder = path.resolve(), folder.resolve()
    return path == folder or folder in path.parents


def image_files(inputs: Sequence[str | Path], skip: Path | None = None) -> list[Path]:
    """The image files named or found in ``inputs`` (folders listed recursively by
    [`list_image_files`][efficientdet_adapter.records.images.list_image_files]: dot-files and
    hidden folders skipped), without those under ``skip`` (an output folder: annotated copies of
    an earlier run are not new inputs).

    Raises:
        UsageError: an input that does not exist, or a folder without images.
    """
    files: list[Path] = []
    for item in inputs:
        path = Path(item)
        if path.is_dir():
            found = [p for p in list_image_files(path, recurse=True)
                     if not (skip is not None and inside(p, skip))]
            if not found:
                raise UsageError(f"{path}: no images ({', '.join(IMAGE_EXTENSIONS)}) in this folder")
            files += found
        elif path.exists() or path.is_symlink():  # a FIFO or a link loop: the reader names it
            files.append(path)
        else:
            raise UsageError(f"{path}: no such image file or folder")
    return files


def tile_count_warning(files: Sequence[Path], tile: Sequence[int] | None, overlap: float | int = 0.25,
                       max_tiles: int | None = None, option: str = "max_tiles",
                       tile_option: str = "tile") -> str | None:
    """How many tiles ``tile`` cuts the largest of ``files`` into, as a warning when above
    `TILE_WARN_COUNT` (``None`` otherwise).

    Raises:
        AdapterError: the largest image makes more than ``max_tiles`` tiles (named ``option``).
    """
    if not tile:
        return None
    from efficientdet_adapter.inference.tiling import MAX_TILES, check_tile_count  # noqa: PLC0415

    largest: tuple[int, Path, int, int] | None = None
    for f in files:
        try:
            w, h = image_size(f)
        except ImageLoadError:
            continue
        if largest is None or w * h > largest[0]:
            largest = (w * h, f, w, h)
    if largest is None:
        return None
    _, f, w, h = largest
    count = check_tile_count(h, w, tile, overlap, max_tiles=max_tiles or MAX_TILES,
                             name=printable(str(f)), option=option)
    if count <= TILE_WARN_COUNT:
        return None
    return (f"{tile_option} {tile[0]},{tile[1]} cuts {printable(str(f))} ({w}x{h}) into {count} "
            f"tiles, each predicted at the model's size (more than {TILE_WARN_COUNT}: slow); a "
            f"larger {tile_option} means fewer")


@dataclass
class FilePredictions:
    """What [`predict_files`][efficientdet_adapter.inference.prediction.predict_files] returns:
    one prediction per readable file, in order (``record_id`` 0, 1, ... over them),
    ``{file: why}`` for the files skipped, and the tile warning (or ``None``)."""

    predictions: list[Prediction]
    skipped: dict[Path, str] = field(default_factory=dict)
    tile_warning: str | None = None


def readable_runs(items: Sequence[Any], run: Callable[[list[Any]], list[Prediction]],
                  batch_size: int, skipped: dict[Path, str],
                  name: Callable[[Any], Path]) -> list[Prediction]:
    """``run`` over ``items`` in chunks of ``batch_size``; a chunk that raises ImageLoadError is
    run again item by item, and the items that still fail go to ``skipped`` (``name(item)``:
    why), so one corrupt file costs its batch a second pass, not the run."""
    preds: list[Prediction] = []
    for start in range(0, len(items), batch_size):
        chunk = list(items[start:start + batch_size])
        try:
            preds += run(chunk)
        except ImageLoadError:
            for item in chunk:
                try:
                    preds += run([item])
                except ImageLoadError as e:
                    skipped[name(item)] = str(e)
    return preds


def report_skipped(skipped: dict[Path, str], total: int, predicted: int) -> None:
    """Log each skipped file as a warning; raise when nothing could be predicted.

    Raises:
        ImageLoadError: none of the ``total`` images could be read.
    """
    for why in skipped.values():
        logger.warning("skipped %s", printable(why))
    if total and not predicted:
        whys = "; ".join(printable(why) for why in list(skipped.values())[:3])
        raise ImageLoadError(f"none of the {total} images could be read ({whys}"
                             f"{'; ...' if len(skipped) > 3 else ''}); nothing predicted")


def is_file_input(value: Any) -> bool:
    """An image file or folder (``str``/``Path``), or a non-empty list of them."""
    if isinstance(value, (str, Path)):
        return True
    return isinstance(value, (list, tuple)) and bool(value) and all(
        isinstance(v, (str, Path)) for v in value)
