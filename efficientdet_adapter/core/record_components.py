"""IceVision 0.12's ``icevision.core.record_components``: not offered (a record is one dataclass here)."""

from __future__ import annotations

from .._faces import CLASSIFICATION, COMPONENTS, GRAYSCALE, KEYPOINTS, MASKS, not_offered
__all__: list[str] = []

NOT_OFFERED: dict[str, str] = {
    **dict.fromkeys(['ClassificationLabelsRecordComponent'], CLASSIFICATION),
    **dict.fromkeys(['AreasRecordComponent', 'BBoxesRecordComponent', 'BaseLabelsRecordComponent', 'ClassMapRecordComponent', 'FilepathRecordComponent', 'ImageRecordComponent', 'InstancesLabelsRecordComponent', 'IsCrowdsRecordComponent', 'LossesRecordComponent', 'RecordComponent', 'RecordIDRecordComponent', 'ScoresRecordComponent', 'SizeRecordComponent'], COMPONENTS),
    **dict.fromkeys(['GrayScaleRecordComponent'], GRAYSCALE),
    **dict.fromkeys(['KeyPointsRecordComponent'], KEYPOINTS),
    **dict.fromkeys(['BaseMasksRecordComponent', 'InstanceMasksRecordComponent', 'SemanticMaskRecordComponent'], MASKS),
}
__getattr__ = not_offered(__name__, NOT_OFFERED)
