"""Dataset: records in, transformed samples out (a [`Record`][efficientdet_adapter.records.record.Record]
each, pixels in ``img``)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from efficientdet_adapter.records.class_map import ClassMap
from efficientdet_adapter.records.images import open_img, oriented_size, to_rgb
from efficientdet_adapter.records.record import Record
from efficientdet_adapter.records.size_check import fit_loaded

__all__ = ["Dataset"]

Transform = Callable[[Record], Record]


class Dataset:
    """Item ``i`` is a transformed copy of ``records[i]``, its image an HxWx3 array in ``img``.

    With ``tfm=None`` the item is a copy with the image loaded (uint8); with a
    [`Adapter`][efficientdet_adapter.tfms.albumentations_adapter.Adapter] it is whatever the adapter
    returns (float32
    after ``Normalize``). The records themselves are never changed and never hold pixels, so a
    Dataset pickles cheaply into DataLoader workers (fork or spawn).

    When the decoded image is not the size the record states, the item is fitted to it by
    `fit_record` (EXIF rotation or a resize: boxes moved
    with the pixels, counted and logged), or an ImageLoadError names the file.

    Example:
        >>> train_ds = Dataset(train_records, tfms.A.Adapter(tfms.A.aug_tfms(384, presize=512)))
        >>> sample = train_ds[0]
        >>> sample.img.shape, sample.bboxes[0].xyxy
    """

    def __init__(self, records: Sequence[Record], tfm: Transform | None = None):
        self.records = list(records)
        self.tfm = tfm

    def __len__(self) -> int:
        return len(self.records)

    def __getitem__(self, i: int) -> Record:
        record = self.records[i]
        if record.img is None and record.filepath is not None:
            img = open_img(record.filepath)
            # the annotation's size against the decoded one: boxes never land on wrong pixels
            record = fit_loaded(record, img).copy(img=img)
        if self.tfm is not None:
            return self.tfm(record)
        sample = record.copy()
        sample.load_image()
        return sample

    def __repr__(self) -> str:
        return f"<Dataset: {len(self)} records, tfm={self.tfm!r}>"

    @classmethod
    def from_images(
        cls,
        images: Sequence[np.ndarray | str | Path],
        tfm: Transform | None = None,
        class_map: ClassMap | None = None,
    ) -> "Dataset":
        """A dataset of raw images for inference: arrays (RGB, any dtype/channels) or file paths.

        Arrays are converted once to HxWx3 uint8 (see
        [`to_rgb`][efficientdet_adapter.records.images.to_rgb]);
        files are read lazily, their size taken from the header (EXIF rotation applied).

        Example:
            >>> ds = Dataset.from_images(["a.jpg", np.zeros((48, 64, 3), np.uint8)], tfm)
        """
        from efficientdet_adapter.base.arguments import not_one_path  # noqa: PLC0415

        images = not_one_path(images, "images", "Dataset.from_images")
        records = []
        for i, image in enumerate(images):
            if isinstance(image, (str, Path)):
                width, height = oriented_size(image)
                records.append(
                    Record(record_id=i, filepath=Path(image), width=width, height=height,
                           class_map=class_map)
                )
            else:
                img = to_rgb(np.asarray(image), name=f"image {i}")
                records.append(
                    Record(record_id=i, filepath=None, width=img.shape[1], height=img.shape[0],
                           img=img, class_map=class_map)
                )
        return cls(records, tfm)
