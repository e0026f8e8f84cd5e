"""``Parser.parse(cache_filepath=...)``: IceVision's pickle of the parsed splits."""

from __future__ import annotations

import logging
import pickle
from pathlib import Path
from typing import Any

from efficientdet_adapter.base.atomic import atomic_write_bytes
from efficientdet_adapter.base.errors import ParseError

logger = logging.getLogger(__name__)


def has_cache(path: str | Path | None) -> bool:
    """Whether ``path`` names an existing cache file (IceVision's ``Parser._check_path``)."""
    return path is not None and Path(path).exists()


def load_cache(path: str | Path) -> list[Any]:
    """The splits a previous ``parse(cache_filepath=path)`` saved.

    Raises:
        ParseError: the file is not such a pickle (delete it to parse again).
    """
    try:
        with open(path, "rb") as f:
            splits = pickle.load(f)  # noqa: S301 - the user's own cache file, as IceVision's
    except (pickle.UnpicklingError, EOFError, AttributeError, ImportError) as e:
        raise ParseError(f"{path}: not a parse cache this library can read ({e}); delete it "
                         "and parse again") from e
    logger.info("%s: %d split(s) loaded from the parse cache", path, len(splits))
    return splits


def save_cache(path: str | Path, splits: list[Any]) -> None:
    """Write ``splits`` to ``path`` (atomically)."""
    atomic_write_bytes(path, pickle.dumps(splits))
