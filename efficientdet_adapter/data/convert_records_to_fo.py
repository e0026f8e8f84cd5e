"""IceVision 0.12's ``icevision.data.convert_records_to_fo``: not offered."""

from __future__ import annotations

from efficientdet_adapter.base.faces import FIFTYONE, not_offered
__all__: list[str] = []

NOT_OFFERED: dict[str, str] = {
    **dict.fromkeys(['convert_prediction_to_fo_sample', 'convert_record_to_fo_sample', 'create_fo_dataset'], FIFTYONE),
}
__getattr__ = not_offered(__name__, NOT_OFFERED)
