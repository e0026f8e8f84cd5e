"""Records and what they are made of: boxes, class maps, images and their sizes, splits, the
record collection, the ``Dataset`` over records, and ``Prediction`` (a record's detections).

The package itself offers what the module ``efficientdet_adapter.records`` offered before it
became this folder: [`record`][efficientdet_adapter.records.record]'s names."""

from efficientdet_adapter.records.record import Record, ImgSize, Geometry, normalize_img_size, MAX_IMG_SIZE, IMG_STRIDE

__all__ = ["Record", "ImgSize", "Geometry", "normalize_img_size", "MAX_IMG_SIZE", "IMG_STRIDE"]
