"""The files ``predict`` writes for a set of images: annotated copies in their source's format,
COCO results, the image index and, on request, YOLO txt labels.

- Annotated copies keep their source's format (`ANNOTATED_FORMATS`: JPEG in, JPEG out;
  PNG in, PNG out); formats Pillow cannot write back as they came (GIF) become PNG.
- ``predictions.json``: COCO results in the original images' pixels (the export's own category
  ids when known); ``images.json`` maps their ``image_id`` to the image files.
- ``labels/<stem>.txt`` with ``save_txt``: one YOLO label file per image, as Ultralytics'
  ``--save-txt`` writes them: ``class cx cy w h [score]`` lines, normalized to the image size, the
  class a 0-based index in the class map's order without the background (``save_conf`` adds the
  score). An image without detections gets an empty file.

Example:
    >>> write_predictions(preds, Path("preds"), save_txt=True)             # doctest: +SKIP
    PosixPath('preds/predictions.json')
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

from efficientdet_adapter.base.atomic import atomic_save, atomic_write_text
from efficientdet_adapter.base.errors import UsageError
from efficientdet_adapter.records.predictions import Prediction

__all__ = ["ANNOTATED_FORMATS", "LABELS_DIR", "annotated_suffix", "save_annotated",
           "write_predictions"]

#: Source suffix -> the Pillow format its annotated copy is written in (the suffix is kept).
#: Any other suffix (``.gif``: one frame of an animation) is written as PNG.
ANNOTATED_FORMATS: dict[str, str] = {
    ".jpg": "JPEG", ".jpeg": "JPEG", ".png": "PNG", ".bmp": "BMP", ".tif": "TIFF",
    ".tiff": "TIFF", ".webp": "WEBP",
}
#: JPEG quality of annotated JPEG copies (Pillow's default is 75: visible blur on the labels).
JPEG_QUALITY = 90
#: The folder of ``save_txt``'s YOLO label files, inside the output folder (Ultralytics' name).
LABELS_DIR = "labels"


def annotated_suffix(source: str | Path | None) -> str:
    """The suffix of the annotated copy of ``source``: its own when in `ANNOTATED_FORMATS`
    (case kept), else ``.png``.

    Example:
        >>> annotated_suffix("a/photo.JPG"), annotated_suffix("anim.gif"), annotated_suffix(None)
        ('.JPG', '.png', '.png')
    """
    suffix = Path(source).suffix if source is not None else ""
    return suffix if suffix.lower() in ANNOTATED_FORMATS else ".png"


def save_annotated(image, path: str | Path) -> Path:
    """Write an ``HxWx3`` uint8 RGB picture to ``path`` atomically, in the format its suffix
    names (`ANNOTATED_FORMATS`; PNG otherwise)."""
    from PIL import Image  # noqa: PLC0415

    path = Path(path)
    fmt = ANNOTATED_FORMATS.get(path.suffix.lower(), "PNG")
    picture = Image.fromarray(image)
    options = {"quality": JPEG_QUALITY} if fmt in ("JPEG", "WEBP") else {}
    return atomic_save(path, lambda tmp: picture.save(tmp, format=fmt, **options))


def write_predictions(preds: Sequence[Prediction], out_dir: Path,
                      category_ids: Mapping[int, int] | None = None,
                      min_score: float | None = None, annotated: bool = True, *,
                      save_txt: bool = False, save_conf: bool = False,
                      also_written: Iterable[str] = ()) -> Path:
    """Annotated copies (at most ``MAX_ANNOTATED_SIDE`` pixels a side, in their source's
    format), ``predictions.json`` (COCO results, original pixels), ``images.json`` and, with
    ``save_txt``, YOLO labels in ``out_dir / "labels"`` (see the module docstring).

    ``out_dir`` may be new, empty or hold an earlier prediction of the same images (replaced); a
    folder with any other file is refused, so that ``predictions.json`` never sits beside
    pictures it does not describe. ``also_written``: names of other outputs of the same run in
    ``out_dir`` (a video's), which are not foreign.

    Returns:
        The path of ``predictions.json``.

    Raises:
        UsageError: an output would replace an input image, or the folder holds other files.
    """
    from efficientdet_adapter.pictures.show import MAX_ANNOTATED_SIDE, annotate  # noqa: PLC0415
    from efficientdet_adapter.parsers.writers import write_coco_results, write_yolo_predictions  # noqa: PLC0415

    out_dir.mkdir(parents=True, exist_ok=True)
    inputs = {Path(p.filepath).resolve() for p in preds if p.filepath is not None}
    images, image_ids, stems, pictures = [], {}, [], []
    for i, pred in enumerate(preds):
        image_ids[pred.record_id] = i
        name = Path(pred.filepath).name if pred.filepath is not None else f"image_{i}"
        images.append({"id": i, "file_name": str(pred.filepath or name),
                       "width": pred.width, "height": pred.height})
        stem = Path(name).stem  # unique: two photo.jpg of two folders give photo, photo_1
        stems.append(stem if stem not in stems else f"{stem}_{i}")
        if annotated:
            pictures.append((pred, out_dir / f"{stems[-1]}{annotated_suffix(pred.filepath)}"))
    planned = [path for _, path in pictures] + [out_dir / "images.json",
                                                 out_dir / "predictions.json"]
    clash = [path for path in planned if path.resolve() in inputs]
    if clash:  # checked before anything is written: an input is never replaced by an output
        raise UsageError(
            f"{out_dir}: writing the predictions here would replace the input image {clash[0]}; "
            "choose an output folder apart from the images"
        )
    names = {path.name for path in planned} | set(also_written) | (
        {LABELS_DIR} if save_txt else set())
    foreign = sorted(p.name for p in out_dir.iterdir()
                     if not p.name.startswith(".") and p.name not in names)
    if foreign:  # predictions.json describes exactly the pictures beside it, or is not written
        shown = ", ".join(foreign[:3]) + (", ..." if len(foreign) > 3 else "")
        raise UsageError(
            f"{out_dir}: holds {len(foreign)} file(s) these predictions would not describe "
            f"({shown}: an earlier prediction of other images?); choose an empty --out folder"
        )
    for pred, path in pictures:  # drawn at a bounded size: memory does not grow with the photo
        save_annotated(annotate(pred, max_side=MAX_ANNOTATED_SIDE), path)
    if save_txt:
        write_yolo_predictions(preds, out_dir / LABELS_DIR, min_score=min_score, conf=save_conf,
                               stems=stems)
    atomic_write_text(out_dir / "images.json", json.dumps(images, indent=1))
    return write_coco_results(preds, out_dir / "predictions.json", category_ids,
                              image_ids=image_ids, min_score=min_score)
