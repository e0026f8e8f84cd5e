"""IceVision 0.12's ``icevision.models.ross.efficientdet.backbones``."""

from __future__ import annotations

from efficientdet_adapter.base.faces import BACKBONE, not_offered
from efficientdet_adapter.model.backbones import (
    d0,
    d1,
    d2,
    d3,
    d4,
    d5,
    tf_d0,
    tf_d0_ap,
    tf_d1,
    tf_d1_ap,
    tf_d2,
    tf_d2_ap,
    tf_d3,
    tf_d3_ap,
    tf_d4,
    tf_d4_ap,
    tf_d5,
    tf_d5_ap,
    tf_d6,
    tf_d7,
    tf_d7x,
    tf_lite0,
    tf_lite1,
    tf_lite2,
    tf_lite3,
)

__all__ = ["tf_lite0", "tf_lite1", "tf_lite2", "tf_lite3", "tf_d0", "tf_d1", "tf_d2", "tf_d3", "tf_d4",
           "tf_d5", "tf_d6", "tf_d7", "tf_d7x", "d0", "d1", "d2", "d3", "d4", "d5", "tf_d0_ap", "tf_d1_ap",
           "tf_d2_ap", "tf_d3_ap", "tf_d4_ap", "tf_d5_ap"]

NOT_OFFERED: dict[str, str] = {
    **dict.fromkeys(['d6', 'd7', 'd7x'], BACKBONE),
}
__getattr__ = not_offered(__name__, NOT_OFFERED)
