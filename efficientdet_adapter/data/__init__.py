"""IceVision's ``data`` import paths (``icevision.data.convert_records_to_coco_style``)."""
