"""ClassMap: the two-way mapping between class names and integer label ids."""

from __future__ import annotations

import json
import logging
from collections.abc import Hashable, Iterable, Iterator, Sequence
from typing import Any

from efficientdet_adapter.base.errors import ClassMapError

__all__ = ["ClassMap", "BACKGROUND", "background_for"]

logger = logging.getLogger(__name__)

BACKGROUND = "background"


def background_for(names: Iterable[str]) -> str:
    """The name of the id-0 class for a dataset with these class ``names``: ``"background"``,
    unless a real class has that name; then ``"__background__"`` (a warning says so), so the
    real class keeps its name and its own id.

    Example:
        >>> background_for(["cat", "background"])
        '__background__'
    """
    names = set(names)
    if BACKGROUND not in names:
        return BACKGROUND
    name = "__background__"
    while name in names:
        name = f"_{name}_"
    logger.warning("a class is named %r: it is kept as a real class, and the model's id-0 "
                   "background class is named %r instead", BACKGROUND, name)
    return name


class ClassMap:
    """Names <-> ids, with the background class at id 0 by default.

    ``len(class_map)`` counts the background, so ``efficientdet.model(num_classes=len(class_map))``
    builds a network with ``len(class_map) - 1`` foreground outputs, as in IceVision.

    Args:
        classes: foreground class names, in id order (ids start at 1 when there is a background).
        background: name of the id-0 class, or ``None`` for a map without a background class.

    Example:
        >>> cm = ClassMap(["cat", "dog"])
        >>> len(cm), cm.get_by_name("dog"), cm.get_by_id(0)
        (3, 2, 'background')
    """

    def __init__(self, classes: Sequence[str] | None = None,
                 background: Hashable | None = BACKGROUND):
        self.background = background
        self._lock = True  # IceVision's: get_by_name adds unknown names only when unlocked
        self._id2class: list[str] = []
        self._class2id: dict[str, int] = {}
        if isinstance(classes, (str, bytes)):  # a string iterates as its characters
            raise ClassMapError(f"ClassMap({classes!r}): classes is one string; pass a list of "
                                f"class names, e.g. ClassMap([{classes!r}])")
        if classes is not None and not isinstance(classes, Iterable):
            raise ClassMapError(f"ClassMap({classes!r}): classes must be a list of class names, "
                                f"not {type(classes).__name__} {classes!r}")
        if isinstance(background, str) or background is None:
            if background is not None:
                self.add_name(background)
        else:  # IceVision allowed any hashable background name, e.g. ClassMap(c, background=0)
            self._class2id[background] = 0
            self._id2class.append(background)
        for name in classes or []:
            if name == background and background is not None:
                raise ClassMapError(
                    f"class {name!r} is also the name of the id-0 background class; to keep it "
                    f"as a real class, pass another background name: ClassMap(classes, "
                    f"background=background_for(classes)) (gives '__background__')"
                )
            self.add_name(name)

    # -- queries ---------------------------------------------------------------------------
    def get_by_id(self, id: int) -> str:
        """Name of label id ``id``."""
        if not 0 <= int(id) < len(self._id2class):
            raise ClassMapError(
                f"label id {id} is not in the class map (ids 0..{len(self._id2class) - 1}: "
                f"{self._id2class})"
            )
        return self._id2class[int(id)]

    def get_by_name(self, name: str) -> int:
        """Label id of class ``name`` (added first when the map is
        [`unlock`][efficientdet_adapter.records.class_map.ClassMap.unlock]-ed)."""
        try:
            return self._class2id[name]
        except KeyError:
            if not self._lock:
                return self.add_name(name)
            raise ClassMapError(
                f"class {name!r} is not in the class map {self._id2class}; add it with "
                "class_map.add_name(name) or fix the annotation"
            ) from None

    def get_classes(self) -> list[str]:
        """All names in id order, background included."""
        return list(self._id2class)

    @property
    def num_classes(self) -> int:
        """``len(class_map)``: the classes with the background (IceVision's name)."""
        return len(self._id2class)

    def lock(self) -> "ClassMap":
        """Unknown names in [`get_by_name`][efficientdet_adapter.records.class_map.ClassMap.get_by_name] are
        errors (the default, as in IceVision)."""
        self._lock = True
        return self

    def unlock(self) -> "ClassMap":
        """Unknown names in [`get_by_name`][efficientdet_adapter.records.class_map.ClassMap.get_by_name] are
        added (IceVision's parsers' live maps).

        Example:
            >>> cm = ClassMap(["cat"]).unlock(); cm.get_by_name("dog"), len(cm.lock())
            (2, 3)
        """
        self._lock = False
        return self

    @property
    def foreground(self) -> list[str]:
        """The names without the background class."""
        return [c for c in self._id2class if c != self.background]

    def __contains__(self, name: object) -> bool:
        return name in self._class2id

    def __len__(self) -> int:
        return len(self._id2class)

    def __iter__(self) -> Iterator[str]:
        return iter(self._id2class)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ClassMap):
            return NotImplemented
        return self._id2class == other._id2class and self.background == other.background

    def __hash__(self) -> int:
        return hash((tuple(self._id2class), self.background))

    def __repr__(self) -> str:
        return f"<ClassMap: {dict(self._class2id)}>"

    # -- changes ---------------------------------------------------------------------------
    def add_name(self, name: str) -> int:
        """Add a new class and return its id; adding an existing name is an error."""
        if not isinstance(name, str) or not name:
            raise ClassMapError(f"class names must be non-empty strings, got {name!r}")
        if name in self._class2id:
            raise ClassMapError(
                f"class {name!r} is already in the class map with id {self._class2id[name]}"
            )
        self._class2id[name] = len(self._id2class)
        self._id2class.append(name)
        return self._class2id[name]

    def assign(self, other: "ClassMap") -> None:
        """Make this map equal to ``other`` in place (a parser's live map, filled by ``parse``)."""
        self.background = other.background
        self._id2class = list(other._id2class)
        self._class2id = dict(other._class2id)

    # -- plain data ------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """Plain data (JSON-safe) that `from_dict` turns back into an equal map."""
        return {"classes": self.foreground, "background": self.background}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "ClassMap":
        try:
            return cls(list(data["classes"]), background=data.get("background", BACKGROUND))
        except (KeyError, TypeError) as e:
            raise ClassMapError(
                f"not a class map dict (expected keys 'classes' and 'background'): {data!r}"
            ) from e

    def to_json(self) -> str:
        return json.dumps(self.to_dict())

    @classmethod
    def from_json(cls, text: str) -> "ClassMap":
        return cls.from_dict(json.loads(text))

    @classmethod
    def from_names(cls, names: Iterable[str], background: str | None = BACKGROUND) -> "ClassMap":
        """A map of the distinct ``names``, sorted (how VOC parsers build one without a map).

        A name equal to the default background's (``"background"``) is a real class: the
        background is then named by
        [`background_for`][efficientdet_adapter.records.class_map.background_for] instead.
        """
        names = set(names)
        if background == BACKGROUND:
            background = background_for(names)
        return cls(sorted(names - {background}), background=background)
