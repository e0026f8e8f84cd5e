"""IceVision 0.12's ``icevision.core``: records, boxes and class maps."""

from __future__ import annotations

from .._faces import gather, merged_not_offered, not_offered
from . import bbox
from . import class_map
from . import components
from . import exceptions
from . import id_map
from . import keypoints
from . import mask
from . import record
from . import record_components
from . import record_defaults
from . import record_type
from . import record_utils
from . import tasks

__all__ = [*gather(globals(), bbox, class_map, components, exceptions, id_map, keypoints, mask, record, record_components, record_defaults, record_type, record_utils), "tasks"]
NOT_OFFERED: dict[str, str] = merged_not_offered(bbox, class_map, components, exceptions, id_map, keypoints, mask, record, record_components, record_defaults, record_type, record_utils)
__getattr__ = not_offered(__name__, NOT_OFFERED)
