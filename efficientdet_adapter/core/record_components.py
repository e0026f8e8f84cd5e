"""IceVision 0.12's ``icevision.core.record_components``: see `efficientdet_adapter.records.components`."""

from __future__ import annotations

from efficientdet_adapter.records.components import (
    AreasRecordComponent,
    BaseLabelsRecordComponent,
    BaseMasksRecordComponent,
    BBoxesRecordComponent,
    ClassificationLabelsRecordComponent,
    ClassMapRecordComponent,
    FilepathRecordComponent,
    GrayScaleRecordComponent,
    ImageRecordComponent,
    InstanceMasksRecordComponent,
    InstancesLabelsRecordComponent,
    IsCrowdsRecordComponent,
    KeyPointsRecordComponent,
    LossesRecordComponent,
    MasksRecordComponent,
    RecordComponent,
    RecordIDRecordComponent,
    ScoresRecordComponent,
    SemanticMaskRecordComponent,
    SizeRecordComponent,
)

__all__ = [
    "AreasRecordComponent", "BBoxesRecordComponent", "BaseLabelsRecordComponent",
    "BaseMasksRecordComponent", "ClassMapRecordComponent", "ClassificationLabelsRecordComponent",
    "FilepathRecordComponent", "GrayScaleRecordComponent", "ImageRecordComponent",
    "InstanceMasksRecordComponent", "InstancesLabelsRecordComponent", "IsCrowdsRecordComponent",
    "KeyPointsRecordComponent", "LossesRecordComponent", "MasksRecordComponent",
    "RecordComponent", "RecordIDRecordComponent", "ScoresRecordComponent",
    "SemanticMaskRecordComponent", "SizeRecordComponent",
]
