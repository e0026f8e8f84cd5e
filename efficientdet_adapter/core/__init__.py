"""IceVision 0.12's ``icevision.core``: records, boxes and class maps."""

from __future__ import annotations

from efficientdet_adapter.base.faces import gather, merged_not_offered, not_offered
from efficientdet_adapter.core import bbox
from efficientdet_adapter.core import class_map
from efficientdet_adapter.core import components
from efficientdet_adapter.core import exceptions
from efficientdet_adapter.core import id_map
from efficientdet_adapter.core import keypoints
from efficientdet_adapter.core import mask
from efficientdet_adapter.core import record
from efficientdet_adapter.core import record_components
from efficientdet_adapter.core import record_defaults
from efficientdet_adapter.core import record_type
from efficientdet_adapter.core import record_utils
from efficientdet_adapter.core import tasks

__all__ = [*gather(globals(), bbox, class_map, components, exceptions, id_map, keypoints, mask, record, record_components, record_defaults, record_type, record_utils), "tasks"]
NOT_OFFERED: dict[str, str] = merged_not_offered(bbox, class_map, components, exceptions, id_map, keypoints, mask, record, record_components, record_defaults, record_type, record_utils)
__getattr__ = not_offered(__name__, NOT_OFFERED)
