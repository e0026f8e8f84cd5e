"""IceVision 0.12's record components, as working classes over this library's
[`Record`][efficientdet_adapter.records.record.Record].

IceVision builds a custom parser's template record from components::

    BaseRecord((FilepathRecordComponent(), InstancesLabelsRecordComponent(), BBoxesRecordComponent()))

Here such a record is a `ComponentRecord`: a [`Record`][efficientdet_adapter.records.record.Record] (so
datasets, transforms and
the model take it as they take any record) that also lists its components. A component holds no
copy of the data: reading ``component.bboxes`` reads the record's ``bboxes`` (the same list), so
IceVision's setters (``record.set_filepath``, ``record.detection.add_bboxes``...) and its checks
(``getattr(record.detection, name) is getattr(component, name)``) both hold. Fields that a
[`Record`][efficientdet_adapter.records.record.Record] has no slot for (``scores``, ``losses``) live on
their component. Masks and
keypoints components exist (a template may name them) and raise one clear error when used.

The library's own [`Record`][efficientdet_adapter.records.record.Record] stays the fast path: built-in
parsers make plain records.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from efficientdet_adapter.base.errors import AutofixAbort, UsageError
from efficientdet_adapter.records.record import ImgSize, Record

if TYPE_CHECKING:
    import numpy as np

__all__ = [
    "Task", "common", "detection", "classification", "Component", "Composite", "RecordComponent",
    "ComponentRecord", "TaskView", "RecordIDRecordComponent", "ClassMapRecordComponent",
    "FilepathRecordComponent", "ImageRecordComponent", "GrayScaleRecordComponent",
    "SizeRecordComponent", "BaseLabelsRecordComponent", "InstancesLabelsRecordComponent",
    "ClassificationLabelsRecordComponent", "BBoxesRecordComponent", "AreasRecordComponent",
    "IsCrowdsRecordComponent", "ScoresRecordComponent", "LossesRecordComponent",
    "BaseMasksRecordComponent", "InstanceMasksRecordComponent", "SemanticMaskRecordComponent",
    "MasksRecordComponent", "KeyPointsRecordComponent",
]


@dataclass(frozen=True)
class Task:
    """A group of record fields (IceVision's ``tasks.common`` / ``tasks.detection``)."""

    name: str
    order: float = 0.5


common = Task("common", order=0)
detection = Task("detection", order=0.5)
classification = Task("classification", order=0.5)


class Component:
    """IceVision's ``Component``: a part of a `Composite`."""

    order: ClassVar[float] = 0.5

    def __init__(self, composite: Any = None) -> None:
        self.composite = composite

    def set_composite(self, composite: Any) -> None:
        self.composite = composite


class Composite:
    """IceVision's ``Composite``: an object made of components; a component's attributes and
    methods are reached through the composite (``composite.add_thing`` calls the component's)."""

    def __init__(self, components: Iterable[Component] = ()) -> None:
        self.components: list[Component] = []
        for component in components:
            self.add_component(component)

    def add_component(self, component: Component) -> None:
        component.set_composite(self)
        self.components.append(component)
        self.components.sort(key=lambda c: c.order)

    def reduce_on_components(self, fn_name: str, reduction: str | None = None,
                             **kwargs: Any) -> Any:
        """Call ``fn_name(**kwargs)`` on each component that has it, in component order, and
        combine the results: ``"extend"`` (lists), ``"update"`` (dicts), or ``None`` (a list
        of the results)."""
        results = [getattr(c, fn_name)(**kwargs) for c in self.components if hasattr(c, fn_name)]
        if reduction is None:
            return results
        out: Any = [] if reduction == "extend" else {}
        for result in results:
            getattr(out, reduction)(result)
        return out

    def get_component_by_type(self, component_type: type) -> Component | None:
        return next((c for c in self.components if isinstance(c, component_type)), None)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__") or name == "components":
            raise AttributeError(name)
        for component in self.__dict__.get("components", ()):
            if _offers(component, name):
                return getattr(component, name)
        raise AttributeError(f"{type(self).__name__} has no attribute {name!r}")


#: Class attributes of components that are not record fields.
_PLUMBING = frozenset({"fields", "own", "default_task", "order", "what", "task", "composite"})


def _offers(component: Component, name: str) -> bool:
    """Whether ``name`` is a field or method of ``component`` that its composite exposes."""
    if name.startswith("_") or name in _PLUMBING:
        return False
    if name in component.__dict__:
        return True
    for klass in type(component).__mro__:
        if klass in (RecordComponent, Component, object):
            return False
        if name in klass.__dict__:
            return True
    return False


class RecordComponent(Component):
    """A component of a record. ``fields`` are the record's attributes it stands for (read
    through to the record); ``own`` are those it keeps itself (``name -> default``)."""

    fields: ClassVar[tuple[str, ...]] = ()
    own: ClassVar[dict[str, Any]] = {}
    default_task: ClassVar[Task] = detection

    def __init__(self, task: Task | None = None) -> None:
        super().__init__()
        self.task = task or self.default_task
        for name, default in self.own.items():
            setattr(self, name, list(default) if isinstance(default, list) else default)

    def __getattr__(self, name: str) -> Any:
        composite = self.__dict__.get("composite")
        if name in type(self).fields and composite is not None:
            return getattr(composite, name)
        raise AttributeError(f"{type(self).__name__} has no attribute {name!r}")

    def __repr__(self) -> str:
        return f"<{type(self).__name__}>"


class RecordIDRecordComponent(RecordComponent):
    fields = ("record_id",)
    default_task = common
    order = 0.1


class ClassMapRecordComponent(RecordComponent):
    fields = ("class_map",)


class ImageRecordComponent(RecordComponent):
    fields = ("img",)
    default_task = common
    order = 0.2


class FilepathRecordComponent(ImageRecordComponent):
    fields = ("filepath", "img")


class GrayScaleRecordComponent(FilepathRecordComponent):
    """IceVision's grayscale record: the image still loads as RGB here (see ``open_img``)."""


class SizeRecordComponent(RecordComponent):
    fields = ("img_size", "width", "height")
    default_task = common
    order = 0.2


class BaseLabelsRecordComponent(RecordComponent):
    fields = ("labels", "label_ids", "class_map")


class InstancesLabelsRecordComponent(BaseLabelsRecordComponent):
    pass


class BBoxesRecordComponent(RecordComponent):
    fields = ("bboxes",)


class AreasRecordComponent(RecordComponent):
    fields = ("areas",)


class IsCrowdsRecordComponent(RecordComponent):
    fields = ("iscrowds",)


class ScoresRecordComponent(RecordComponent):
    own = {"scores": None}

    def set_scores(self, scores: Sequence[float]) -> None:
        self.scores = scores


class LossesRecordComponent(RecordComponent):
    own = {"losses": None}

    def set_losses(self, losses: dict) -> None:
        self.losses = losses


class _NotOffered(RecordComponent):
    what: ClassVar[str] = ""

    def _refuse(self, *args: Any, **kwargs: Any) -> None:
        raise UsageError(f"{type(self).__name__}: {self.what} are not offered: "
                         "efficientdet_adapter trains EfficientDet, which predicts boxes")


class BaseMasksRecordComponent(_NotOffered):
    what = "masks"
    add_masks = set_masks = set_mask = set_mask_array = _NotOffered._refuse


class InstanceMasksRecordComponent(BaseMasksRecordComponent):
    pass


class SemanticMaskRecordComponent(BaseMasksRecordComponent):
    pass


MasksRecordComponent = InstanceMasksRecordComponent


class KeyPointsRecordComponent(_NotOffered):
    what = "keypoints"
    add_keypoints = set_keypoints = _NotOffered._refuse


class ClassificationLabelsRecordComponent(RecordComponent):
    """IceVision's image-level labels (``record.classification``): ids through a class map,
    one or several per image (``is_multilabel``), and their one-hot encoding."""

    default_task = classification
    own = {"labels": [], "label_ids": [], "class_map": None}

    def __init__(self, task: Task | None = None, is_multilabel: bool = False) -> None:
        super().__init__(task)
        self.is_multilabel = is_multilabel

    def set_class_map(self, class_map: Any) -> None:
        self.class_map = class_map

    def set_labels_by_id(self, label_ids: Sequence[int]) -> None:
        self.label_ids = [int(i) for i in label_ids]
        self.labels = [self.class_map.get_by_id(i) for i in self.label_ids]

    def add_labels_by_id(self, label_ids: Sequence[int]) -> None:
        self.set_labels_by_id([*self.label_ids, *label_ids])

    def set_labels(self, labels: Sequence[Any]) -> None:
        self.set_labels_by_id([self.class_map.get_by_name(name) for name in labels])

    def add_labels(self, labels: Sequence[Any]) -> None:
        self.set_labels([*self.labels, *labels])

    def one_hot_encoded(self) -> "np.ndarray":
        """One 0/1 value per class of the class map."""
        import numpy as np  # noqa: PLC0415

        out = np.zeros(len(self.class_map), dtype=int)
        out[self.label_ids] = 1
        return out

    def _autofix(self) -> dict[str, bool]:
        if not self.is_multilabel and len(self.label_ids) > 1:
            raise AutofixAbort(f"{len(self.label_ids)} labels on a record that is not "
                               "multilabel (is_multilabel=False)")
        return {"labels": True}


class TaskView:
    """``record.<task>`` for a task other than detection (``record.classification``): its
    components' fields and methods."""

    def __init__(self, record: "ComponentRecord", task: str) -> None:
        self._record, self._task = record, task

    def __getattr__(self, name: str) -> Any:
        for component in self._record.components:
            if component.task.name == self._task and (
                    name in type(component).fields or _offers(component, name)
                    or (name not in _PLUMBING and hasattr(type(component), name))):
                return getattr(component, name)
        raise AttributeError(f"record.{self._task} has no attribute {name!r}")


class ComponentRecord(Composite, Record):
    """IceVision's ``BaseRecord(components)``: a [`Record`][efficientdet_adapter.records.record.Record]
    that lists its components.

    A record id and a size component are always part of it, as in IceVision. Until its setters
    run, ``filepath``, ``width`` and ``height`` are ``None``.
    """

    def __init__(self, components: Iterable[RecordComponent] = (), **fields: Any) -> None:
        fields.setdefault("record_id", None)
        fields.setdefault("filepath", None)
        fields.setdefault("width", None)
        fields.setdefault("height", None)
        Record.__init__(self, **fields)
        components = list(components)
        for extra in (RecordIDRecordComponent, SizeRecordComponent):
            if not any(isinstance(c, extra) for c in components):
                components.append(extra())
        Composite.__init__(self, components)
        self.is_new = True

    @classmethod
    def from_record(cls, record: Record,
                    component_types: Iterable[type[RecordComponent]]) -> "ComponentRecord":
        """``record``'s fields (its lists, not copies) in a record with these components."""
        fields = {f.name: getattr(record, f.name) for f in dataclasses.fields(Record) if f.init}
        out = cls([kind() for kind in component_types], **fields)
        out.is_new = record.is_new
        return out

    def __getattr__(self, name: str) -> Any:
        components = self.__dict__.get("components", ())
        if any(c.task.name == name and c.task is not detection for c in components):
            return TaskView(self, name)
        return Composite.__getattr__(self, name)

    @property
    def img_size(self) -> ImgSize:
        """``ImgSize(width, height)``: the same object while the size is unchanged (IceVision's
        record and its size component hold one)."""
        size = self.__dict__.get("_img_size")
        if size is None or (size.width, size.height) != (self.width, self.height):
            size = self.__dict__["_img_size"] = ImgSize(self.width, self.height)
        return size

    def add_labels(self, labels: Sequence[Any]) -> None:
        """Add class names; with a class map set, their ids too (IceVision's order of calls:
        ``set_class_map`` then ``add_labels``)."""
        Record.add_labels(self, labels)
        if self.class_map is not None and len(self.label_ids) + len(labels) == len(self.labels):
            self.label_ids.extend(self.class_map.get_by_name(name) for name in labels)

    def set_img_size(self, size: Any, original: bool = False) -> None:
        Record.set_img_size(self, size)

    def num_annotations(self) -> dict[str, dict[str, int]]:
        """Items per annotation list, by task: ``{"common": {}, "detection": {...}}``."""
        counts: dict[str, dict[str, int]] = {"common": {}}
        names = {"labels": InstancesLabelsRecordComponent, "bboxes": BBoxesRecordComponent,
                 "areas": AreasRecordComponent, "iscrowds": IsCrowdsRecordComponent}
        detection_counts = {}
        for name, kind in names.items():
            if self.get_component_by_type(kind) is not None:
                detection_counts[name] = len(getattr(self, name) or [])
        if detection_counts:
            counts["detection"] = detection_counts
        return counts

    def check_num_annotations(self) -> None:
        """Raise [`AutofixAbort`][efficientdet_adapter.base.errors.AutofixAbort] when the annotation
        lists differ in length."""
        counts = self.num_annotations().get("detection", {})
        if len(set(counts.values())) > 1:
            raise AutofixAbort(f"record {self.record_id!r}: the annotation lists differ in "
                               f"length: {counts}")

    def autofix(self) -> dict[str, dict[str, list[bool]]]:
        """IceVision's ``record.autofix()``:
        [`AutofixAbort`][efficientdet_adapter.base.errors.AutofixAbort] for a missing image file or
        annotation lists of different lengths; then boxes clipped and those without area
        dropped (see [`Record.autofix`][efficientdet_adapter.records.record.Record.autofix])."""
        if self.filepath is not None and not Path(self.filepath).exists():
            raise AutofixAbort(f"record {self.record_id!r}: {self.filepath} does not exist")
        self.check_num_annotations()
        for component in self.components:
            if hasattr(component, "_autofix"):
                component._autofix()
        return Record.autofix(self)

    def load(self) -> "ComponentRecord":
        """A copy with the image loaded: a PIL image from a file, as IceVision's (a grayscale
        component keeps the array)."""
        import PIL.Image  # noqa: PLC0415

        loaded = self.copy()
        if loaded.img is None and loaded.filepath is not None:
            loaded.load_image()
            if self.get_component_by_type(GrayScaleRecordComponent) is None:
                loaded.img = PIL.Image.fromarray(loaded.img)
        return loaded

    def copy(self, **changes: Any) -> "ComponentRecord":
        copied = Record.copy(self, **changes)
        copied.components = []
        for component in self.components:
            new = type(component)(component.task)
            for name in type(component).own:
                setattr(new, name, getattr(component, name))
            copied.add_component(new)
        copied.is_new = getattr(self, "is_new", False)
        return copied

    def __repr__(self) -> str:
        names = ", ".join(type(c).__name__ for c in self.components)
        return (f"ComponentRecord(record_id={self.record_id!r}, filepath={self.filepath!r}, "
                f"{len(self.bboxes)} boxes; components: {names})")


#: The components of the records IceVision's box parsers made (COCO adds areas and crowd flags).
BOX_COMPONENTS = (FilepathRecordComponent, InstancesLabelsRecordComponent, BBoxesRecordComponent)
COCO_COMPONENTS = (*BOX_COMPONENTS, AreasRecordComponent, IsCrowdsRecordComponent)
