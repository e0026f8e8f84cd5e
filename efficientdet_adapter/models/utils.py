"""IceVision's ``models.utils``:
[`get_dataloaders`][efficientdet_adapter.models.utils.get_dataloaders] (datasets and loaders in one
call)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from efficientdet_adapter.records.dataset import Dataset
from efficientdet_adapter.records.record import Record
from efficientdet_adapter.base.errors import ArgumentError

__all__ = ["get_dataloaders"]

_TRAINING = "fastai's learner and Lightning's Trainer do this; efficientdet.param_groups splits"
#: IceVision 0.12's names of ``icevision.models.utils`` not offered here, and why.
NOT_OFFERED: dict[str, str] = {
    **dict.fromkeys(["filter_params", "unfreeze", "freeze"], _TRAINING),
    **dict.fromkeys(["transform_dl", "apply_batch_tfms", "unpack_batch"],
                    "batches: efficientdet.train_dl/valid_dl/infer_dl build them"),
}


def get_dataloaders(
    model_type: Any,
    records_list: Sequence[Sequence[Record]],
    tfms_list: Sequence[Callable | None],
    batch_tfms: Any = None,
    batch_size: int = 16,
    num_workers: int = 4,
    **dataloader_kwargs: Any,
) -> tuple[list[Dataset], list[Any]]:
    """``[train_ds, valid_ds], [train_dl, valid_dl]`` from ``[train_records, valid_records]``
    and ``[train_tfms, valid_tfms]`` (IceVision's helper, used for progressive resizing).

    Args:
        model_type: the model module, ``models.ross.efficientdet`` (i.e. ``efficientdet``).
        records_list, tfms_list: training and validation records and their transforms.
        batch_tfms, batch_size, num_workers, dataloader_kwargs: passed to
            ``model_type.train_dl`` (shuffled) and ``model_type.valid_dl``.

    Example:
        >>> ds, dls = get_dataloaders(efficientdet, [train_records, valid_records],
        ...                           [train_tfms, valid_tfms], batch_size=8)  # doctest: +SKIP
    """
    if len(records_list) != 2 or len(tfms_list) != 2:
        raise ArgumentError(
            "get_dataloaders takes [train_records, valid_records] and [train_tfms, valid_tfms]; "
            f"got {len(records_list)} record lists and {len(tfms_list)} transforms"
        )
    train_ds = Dataset(records_list[0], tfms_list[0])
    valid_ds = Dataset(records_list[1], tfms_list[1])
    common = dict(batch_tfms=batch_tfms, batch_size=batch_size, num_workers=num_workers,
                  **dataloader_kwargs)
    train_dl = model_type.train_dl(train_ds, shuffle=True, **common)
    valid_dl = model_type.valid_dl(valid_ds, shuffle=False, **common)
    return [train_ds, valid_ds], [train_dl, valid_dl]
