"""IceVision's own notebooks run whole in a real Jupyter kernel with only their imports changed
(see each notebook's first cell for the exact list of changes), on tiny data.

``EFFICIENTDET_ADAPTER_STORE_NOTEBOOKS=1`` writes each executed notebook back to
``notebooks/icevision/`` with its outputs (that is how the stored outputs are made).
"""

from __future__ import annotations

import importlib.util
import json
import os
from pathlib import Path

import nbformat
import pytest

from kernel import execute, kernel_env, output_text, write_stored

REPO_ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = REPO_ROOT / "notebooks" / "icevision"
STORE = os.environ.get("EFFICIENTDET_ADAPTER_STORE_NOTEBOOKS") == "1"


def _has(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


def _wandb_logged_offline(root: Path) -> None:
    runs = list((root / "wandb").glob("offline-run-*"))
    assert runs, "no offline W&B run was written"


def run_notebook(name: str, cwd: Path) -> tuple[nbformat.NotebookNode, str]:
    env = kernel_env(HOME=str(cwd), TORCH_HOME=str(cwd / "torch_home"), WANDB_MODE="offline",
                     WANDB_SILENT="true")
    path = NOTEBOOKS / f"{name}.ipynb"
    nb = execute(path, cwd, env)
    if STORE:
        write_stored(nb, path)
    return nb, output_text(nb)


def test_every_notebook_says_what_was_changed():
    for path in sorted(NOTEBOOKS.glob("*.ipynb")):
        nb = json.loads(path.read_text())
        header = "".join(nb["cells"][0]["source"])
        assert "converted" in header and "Only these changes were made" in header, path.name
        code = "".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code")
        assert "from efficientdet_adapter.all import *" in code, path.name
        live = "\n".join(line.split("#")[0] for line in code.splitlines())
        assert "icedata" not in live, path.name  # data points at local copies
        assert "from icevision" not in code and "import icevision" not in code, path.name


def _progressive_model_ended_at_256(root: Path) -> None:
    """The notebook's last cell saved the model trained at 128 then 256 px."""
    import torch

    from efficientdet_adapter import efficientdet

    [path] = (root / "drive" / "icevision" / "models" / "fridge").glob("*.pth")
    state = torch.load(path, weights_only=True)
    assert "anchors.boxes" not in state  # anchors follow the size; they are not weights
    model = efficientdet.model(model_name="tf_efficientdet_lite0", num_classes=5, img_size=256,
                               pretrained_backbone=False)
    model.load_state_dict(state)


def _inference_wrote_pseudo_labels_and_a_checkpoint(root: Path) -> None:
    from efficientdet_adapter.checkpoint import model_from_checkpoint

    data = json.loads((root.parent / "inferences_for_pseudo_labels.json").read_text())
    assert len(data["images"]) == 6 and len(data["categories"]) == 90  # COCO's category ids
    assert data["info"]["description"] == "Exported from IceVision"
    loaded = model_from_checkpoint(root / "coco-retinanet-checkpoint-full.pth")
    assert loaded["img_size"] == 128 and len(loaded["class_map"]) == 91
    # the grids show boxes: the first batch's (threshold 0.33) on every image, and the last
    # grid's (the default threshold 0.5, the saved checkpoint) on each of its images
    assert {a["image_id"] for a in data["annotations"]} == {im["id"] for im in data["images"]}
    _last_grid_has_boxes(loaded, root / "fridge" / "odFridgeObjects" / "images")


def _last_grid_has_boxes(loaded: dict, images: Path) -> None:
    from PIL import Image

    from efficientdet_adapter import Dataset, efficientdet

    model = loaded["model"]
    ds = Dataset.from_images([Image.open(p) for p in sorted(images.glob("*.jpg"))],
                             efficientdet.inference_tfm(model), class_map=loaded["class_map"])
    preds = efficientdet.predict(model, ds, show_pbar=False)
    assert len(preds) == 6 and all(len(p.pred.detection.scores) > 0 for p in preds), (
        [len(p.pred.detection.scores) for p in preds])


@pytest.mark.parametrize(
    "name, expected, check",
    [
        # fastai (lr_find, fine_tune) then Lightning fit and test on the same model
        ("getting_started_object_detection", ["COCOMetric", "`Trainer.fit` stopped", "Test metric"],
         None),
        # a custom Parser with IceVision's protocol, then training and predictions
        ("custom_parser", ["class MyParser(Parser):", "COCOMetric"], None),
        # VOC parser + image-only negatives from a custom parser, two trainings
        ("negative_samples", ["COCOMetric"], None),
        # train at 128, swap the loaders for 256 ones, keep training the same learner
        ("progressive_resizing", ["COCOMetric"], _progressive_model_ended_at_256),
        # COCO weights from a URL (the hub cache), end2end_detect, batch inference, COCO
        # pseudo-labels, draw_record, save_icevision_checkpoint and loading it back
        ("inference", [], _inference_wrote_pseudo_labels_and_a_checkpoint),
        # per-image losses, sorted and drawn; get_samples_losses into a DataFrame
        ("plot_top_losses", ["COCOMetric"], None),
        # the EfficientDet README's snippets and the docs Models page (after a context cell)
        ("efficientdet_readme", ["COCOMetric", "`Trainer.fit` stopped"], None),
        # the VOC parser with IceVision's FixedSplitter over VOC's ImageSets lists
        ("voc_predefined_splits", [], None),
        # tiled inference through SAHI (the sahi extra)
        pytest.param("SAHI_inference", ["COCOMetric"], None,
                     marks=pytest.mark.skipif(not _has("sahi"), reason="needs the sahi extra")),
        # fastai's WandbCallback and wandb_img_preds, W&B offline (the wandb extra)
        pytest.param("wandb_efficientdet", ["COCOMetric"], _wandb_logged_offline,
                     marks=pytest.mark.skipif(not _has("wandb"), reason="needs the wandb extra")),
    ],
)
def test_icevision_notebook_runs_whole_in_a_kernel(notebook_dir, name, expected, check):
    nb, out = run_notebook(name, notebook_dir)
    code_cells = [c for c in nb.cells if c.cell_type == "code"]
    assert len(code_cells) > 5
    assert [c.execution_count for c in code_cells] == list(range(1, len(code_cells) + 1))
    for text in expected:
        assert text in out, text
    if check is not None:
        check(notebook_dir)
