"""IceVision's ``COCOBBoxParser``: [`COCOParser`][efficientdet_adapter.parsers.coco.COCOParser] with
IceVision's results."""

from __future__ import annotations

import os
from typing import Any

from efficientdet_adapter.records.components import COCO_COMPONENTS, ComponentRecord
from efficientdet_adapter.records.record import Record
from efficientdet_adapter.parsers.coco import COCOParser
from efficientdet_adapter.parsers.formats import CocoClassIds, CocoOrder

__all__ = ["COCOBBoxParser"]


class COCOBBoxParser(COCOParser):
    """IceVision's ``COCOBBoxParser``, with IceVision's results: images without annotations
    are left out, label ids are COCO's category ids (a 91-entry class map for COCO's 80
    classes), records come in the order their images first appear in the annotations. The
    arguments are [`COCOParser`][efficientdet_adapter.parsers.coco.COCOParser]'s, whose defaults are
    the library's choices
    (``keep_negatives=True, class_ids="contiguous", order="images"``).

    Example:
        >>> parser = COCOBBoxParser("coco/annotations.json", "coco/images")  # doctest: +SKIP
        >>> len(parser.parse()[0][0].class_map)  # doctest: +SKIP
        91
    """

    def __init__(self, annotations_filepath: str | os.PathLike | dict,
                 img_dir: str | os.PathLike, idmap: Any = None, *,
                 keep_negatives: bool = False, class_ids: CocoClassIds = "coco",
                 order: CocoOrder = "annotations", check_images: bool = False,
                 show_pbar: bool | None = None):
        super().__init__(annotations_filepath, img_dir, keep_negatives=keep_negatives,
                         class_ids=class_ids, order=order, idmap=idmap,
                         check_images=check_images, show_pbar=show_pbar)

    def parse_records(self) -> list[Record]:
        """COCOParser's records, as IceVision's: each with its components listed."""
        return [ComponentRecord.from_record(r, COCO_COMPONENTS) for r in super().parse_records()]
