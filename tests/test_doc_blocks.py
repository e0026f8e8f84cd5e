"""Every ```` ```python ```` block of the README and the docs pages runs, on tiny data.

The blocks of one page run in order in one namespace, as a reader types them, in a folder that
holds the files the pages name (``my-export.zip``, ``export.zip``, ``photo.jpg``). What a page
assumes the reader already has (``model``, ``class_map``, ``train_dl``, ``images``...) comes from
one tiny trained model and dataset shared by all pages (:func:`reader`). The code runs as written
but for the literal replacements in :data:`QUICK` (image sizes, epochs, batch sizes: the scale a
test can afford), each checked to apply.

A block that cannot run here starts with ``# not run in tests: <why>``; it is reported as a skip
with that reason.
"""

from __future__ import annotations

import os
import re
import shutil
import textwrap
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
PAGES = [REPO_ROOT / "README.md", *sorted((REPO_ROOT / "docs").glob("*.md"))]
BLOCK = re.compile(r"^```python\n(.*?)^```", flags=re.DOTALL | re.MULTILINE)
#: The mark a page puts on the first line of a block that cannot run in the tests.
SKIP_MARK = re.compile(r"\A# not run in tests: (.+)$", flags=re.MULTILINE)
SIZE = 128

#: (literal text, what the tests run instead): sizes, epochs and batches a test can afford.
QUICK: list[tuple[str, str]] = [
    ("size = 384", f"size = {SIZE}"),
    ("img_size=384", f"img_size={SIZE}"),
    ("presize=512", f"presize={SIZE + 32}"),
    ("batch_size=16, num_workers=4", "batch_size=4, num_workers=0"),
    ("fine_tune(10, 1e-2, freeze_epochs=1)", "fine_tune(1, 1e-2, freeze_epochs=1)"),
    ("max_epochs=10", "max_epochs=1"),
    ("max_epochs=30", "max_epochs=1"),
    ("fit_one_cycle(30, 1e-3)", "fit_one_cycle(1, 1e-3)"),
    ("tile=(384, 384)", f"tile=({SIZE}, {SIZE})"),
    ("check_dataset(\"export.zip\", img_size=512)", f"check_dataset(\"export.zip\", img_size={SIZE})"),
]


@dataclass(frozen=True)
class Block:
    page: str
    line: int
    code: str

    @property
    def skip_reason(self) -> str | None:
        m = SKIP_MARK.match(self.code)
        return m.group(1).strip() if m else None


def page_blocks(path: Path) -> list[Block]:
    text = path.read_text(encoding="utf-8")
    name = str(path.relative_to(REPO_ROOT)) if path.is_relative_to(REPO_ROOT) else path.name
    return [Block(name, text[:m.start()].count("\n") + 2, m.group(1)) for m in BLOCK.finditer(text)]


BLOCKS = {str(p.relative_to(REPO_ROOT)): page_blocks(p) for p in PAGES}
PAGES_WITH_CODE = [name for name, blocks in BLOCKS.items() if blocks]


def quick(code: str, used: set[str]) -> str:
    for old, new in QUICK:
        if old in code:
            used.add(old)
            code = code.replace(old, new)
    return code


def test_the_collector_reads_blocks_and_marks(tmp_path):
    page = textwrap.dedent('''\
        Text.

        ```python
        x = 1
        ```

        ```python
        # not run in tests: needs a GPU
        y = 2
        ```
        ''')
    path = tmp_path / "page.md"
    path.write_text(page, encoding="utf-8")
    blocks = page_blocks(path)
    assert [(b.line, b.code, b.skip_reason) for b in blocks] == [
        (4, "x = 1\n", None), (8, "# not run in tests: needs a GPU\ny = 2\n", "needs a GPU")]
    assert sum(len(b) for b in BLOCKS.values()) >= 20  # README and the pages hold ~21 blocks


def _write_clip(photo: Path, video: Path, frames: int = 3) -> None:
    """A few frames of ``photo`` as an mp4 (the video the Prediction page names)."""
    import cv2

    img = cv2.imread(str(photo))
    out = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"mp4v"), 5.0,
                          (img.shape[1], img.shape[0]))
    for _ in range(frames):
        out.write(img)
    out.release()


@pytest.fixture(scope="module")
def reader(tmp_path_factory) -> dict:
    """A folder with the files the pages name, and what a reader of a page already holds: a
    tiny model trained for one epoch on the demo export, its data loaders and images."""
    import torch

    from efficientdet_adapter import COCOMetric, Dataset, efficientdet, parsers, tfms
    from efficientdet_adapter.app.demo import demo_records
    from efficientdet_adapter.parsers.roboflow import write_export

    env = pytest.MonkeyPatch()  # the LightModel below is built on pytorch_lightning
    env.setenv("EFFICIENTDET_ADAPTER_LIGHTNING", "pytorch_lightning")
    root = tmp_path_factory.mktemp("doc_blocks")
    torch.manual_seed(0)
    splits = demo_records(root / "_demo", num_images=12, splits=(0.5, 0.5, 0.0), min_size=128,
                          max_size=160)
    export = write_export(splits, root / "_export", "coco")
    shutil.make_archive(str(root / "my-export"), "zip", export)
    shutil.copy(root / "my-export.zip", root / "export.zip")
    shutil.copy(splits["valid"][0].filepath, root / "photo.jpg")
    _write_clip(root / "photo.jpg", root / "clip.mp4")

    parser = parsers.RoboflowParser(root / "my-export.zip")
    train_records, valid_records, *_ = parser.parse()
    class_map = parser.class_map
    model = efficientdet.model(model_name="tf_efficientdet_lite0", num_classes=len(class_map),
                               img_size=SIZE, pretrained_backbone="imagenet-lite0")
    normalize = efficientdet.normalize_tfm(model)
    train_ds = Dataset(train_records, tfms.A.Adapter([*tfms.A.resize_and_pad(SIZE), normalize]))
    valid_ds = Dataset(valid_records, tfms.A.Adapter([*tfms.A.resize_and_pad(SIZE), normalize]))
    train_dl = efficientdet.train_dl(train_ds, batch_size=4, num_workers=0, shuffle=True)
    valid_dl = efficientdet.valid_dl(valid_ds, batch_size=4, num_workers=0, shuffle=False)
    learn = efficientdet.fastai.learner(dls=[train_dl, valid_dl], model=model)
    with learn.no_bar(), learn.no_logging():
        learn.fit_one_cycle(1, 1e-3)
    images = [np.asarray(r.copy().load_image()) for r in valid_records[:2]]
    ds = Dataset.from_images(images, efficientdet.inference_tfm(model))
    batch = np.stack([np.asarray(ds[i].img, dtype=np.float32).transpose(2, 0, 1) for i in range(2)])

    import pytorch_lightning as pl
    from torch.optim import SGD

    class LightModel(efficientdet.lightning.ModelAdapter):
        def configure_optimizers(self):
            return SGD(self.parameters(), lr=1e-4)

    from efficientdet_adapter.training import RunTracker

    env.undo()
    return {"root": root, "names": {
        "model": model, "class_map": class_map, "train_dl": train_dl, "valid_dl": valid_dl,
        "valid_records": valid_records, "images": images, "ds": ds, "batch": batch,
        "efficientdet": efficientdet, "COCOMetric": COCOMetric, "pl": pl,
        "LightModel": LightModel, "RunTracker": RunTracker,
    }}


@pytest.mark.parametrize("page", PAGES_WITH_CODE)
def test_page_code_runs(page, reader, monkeypatch):
    monkeypatch.chdir(reader["root"])
    namespace = {"__name__": "__doc_block__", **reader["names"]}
    used: set[str] = set()
    skipped = []
    # each page is read in a fresh program: its adapter is built on the Lightning package that
    # page imports (this process imports both: the variable says which, see version_compat)
    monkeypatch.setenv("EFFICIENTDET_ADAPTER_LIGHTNING", "pytorch_lightning")
    for block in BLOCKS[page]:
        if "import lightning as L" in block.code:
            monkeypatch.setenv("EFFICIENTDET_ADAPTER_LIGHTNING", "lightning")
        if block.skip_reason:
            skipped.append(f"{page}:{block.line}: {block.skip_reason}")
            continue
        code = compile(quick(block.code, used), f"{page}:{block.line}", "exec")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                exec(code, namespace)
            except Exception as e:
                pytest.fail(f"{page}, the block at line {block.line} raised {type(e).__name__}: {e}")
    assert (reader["root"] / "my-export.zip").is_file()
    if skipped:
        pytest.skip("; ".join(skipped))


def test_every_quick_replacement_applies():
    """A replacement that no page's code holds any more is stale: the page changed."""
    used: set[str] = set()
    for blocks in BLOCKS.values():
        for block in blocks:
            quick(block.code, used)
    assert used == {old for old, _ in QUICK}


def test_marked_blocks_say_why():
    marked = [b for blocks in BLOCKS.values() for b in blocks if "not run in tests" in b.code]
    for b in marked:
        assert b.skip_reason, f"{b.page}:{b.line}: the mark must be the block's first line"
    assert os.sep not in "".join(b.skip_reason or "" for b in marked)
