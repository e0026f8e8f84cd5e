"""The package's layers only look down: imports (top-level and inside functions alike) parsed
with ``ast``, checked against the layer order written here, and searched for cycles."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest

PACKAGE = "efficientdet_adapter"
ROOT = Path(__file__).resolve().parents[1] / PACKAGE

#: Lowest first. A module may import modules of its own layer or of the layers below it; a new
#: module gets a place here (the first test fails until it has one).
#: IceVision 0.12's module paths that are this library's own modules (in the layers below); every
#: other path of IceVision's tree (tests/fixtures/icevision_0_12_modules.json) is a face.
ICEVISION_PATHS_OF_OUR_MODULES = {
    "metrics", "visualize", "parsers", "tfms", "models.utils", "models.interpretation",
    "models.inference_sahi", "engines", "engines.fastai",
}
_TREE = json.loads((Path(__file__).parent / "fixtures" / "icevision_0_12_modules.json").read_text())
#: IceVision's faces (and the model families that refuse to import, and ``all``, IceVision's
#: one-liner): the top layer, since nothing inside the package may import them.
FACES = sorted(
    {m.removeprefix("icevision.") for m in _TREE["modules"]} - ICEVISION_PATHS_OF_OUR_MODULES
    | {"models.mmdet", "models.torchvision", "models.ultralytics", "models.fastai", "all",
       "soft_dependencies"}
    | {f"models.torchvision.{m}" for m in ("faster_rcnn", "retinanet", "mask_rcnn", "keypoint_rcnn")}
)

LAYERS: list[tuple[str, list[str]]] = [
    ("face helpers", ["_faces", "_icevision_names"]),  # IceVision's not-offered reasons: imports nothing
    ("errors", ["errors", "version_compat", "arguments", "atomic", "devices", "start", "choices",
                "terminal", "export_formats"]),
    ("values", ["bbox", "class_map", "image_tiff", "images"]),
    ("records", ["records", "size_check", "splitters", "record_collection", "record_components"]),
    ("pictures", ["visualize.notebook", "visualize"]),
    ("predictions", ["predictions", "metrics", "class_scores", "integrations",
                     "models.inference_sahi"]),
    ("files", ["parsers._cache", "parsers._paths", "parsers._files", "parsers._zip",
               "parsers.formats", "parsers.report", "parsers.base", "parsers.coco_write", "parsers.coco", "parsers.coco_bbox",
               "parsers.csv", "parsers.voc", "parsers.yolo", "parsers.roboflow",
               "parsers.yolo_data", "parsers.via", "parsers", "writers", "compat", "demo"]),
    ("transforms", ["tfms._scale", "tfms.albumentations_adapter", "tfms", "dataset",
                    "models.utils"]),
    ("effdet conventions", ["efficientdet._targets", "efficientdet.backbones",
                            "efficientdet.anchor_labels",
                            "efficientdet.batched_nms", "efficientdet.postprocess"]),
    ("model config", ["efficientdet.config", "efficientdet.wrappers", "efficientdet.resize"]),
    # reading and writing parameters: below the model, which loads pretrained weights
    ("weights", ["weights.state_dict", "weights.packaged", "weights._download", "weights.hub",
                 "weights.loading", "weights", "weights.onnx_graph", "weights.export",
                 "weights.icevision", "weights.transfer"]),
    ("model", ["efficientdet.model", "efficientdet.anchor_sizes", "efficientdet.anchor_fit"]),
    ("running the model", ["efficientdet.runtime", "efficientdet.onnx_model",
                           "efficientdet.dataloaders",
                           "efficientdet.show", "efficientdet.prediction",
                           "efficientdet.tiling", "prediction_files", "video"]),
    # engines/, lower half: the plain steps and per-step numbers every loop calls
    ("engine steps", ["engines.steps", "engines.step_values"]),
    ("model verbs", ["efficientdet.interpretation", "efficientdet", "models.interpretation"]),
    # model_from_checkpoint returns IceVision's model_type, the efficientdet package (model verbs)
    ("checkpoints", ["weights.checkpoint", "checkpoint", "check"]),
    ("training", ["training.csvlog", "training.state",
                  "training.tensorboard_log", "training.budget_clock", "training.budget",
                  "training.resume_check", "training.run_lock", "training.interrupts", "training.plots",
                  "training.loggers", "auto_options",
                  "small_boxes", "training"]),
    # engines/, upper half: the run core and each engine's shells over it, and their
    # IceVision names (efficientdet.fastai, efficientdet.lightning, engines.fastai)
    ("engines", ["engines.core", "engines.fastai.steps", "engines.fastai.learn",
                 "engines.fastai.callbacks", "engines.fastai.budget", "engines.fastai.loggers",
                 "engines.fastai.fit",
                 "engines.lightning.adapter", "engines.lightning.callbacks",
                 "engines.lightning.budget", "engines.lightning.loggers", "engines.lightning.fit",
                 "engines",
                 "engines.fastai", "efficientdet.fastai", "efficientdet.lightning"]),
    ("runs", ["run_options", "run_splits", "runs", "run_config"]),
    ("applications", ["cli", "__main__", ""]),
    ("icevision faces", FACES),
]

#: Cycles that remain, each with its reason; the test also fails when one of them is gone.
KNOWN_CYCLES: set[frozenset[str]] = set()


def _name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    return {_name(p): p for p in ROOT.rglob("*.py")}


def _imports(name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """The package's modules that ``name`` imports, anywhere in its code."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".") if package else []
                base = base[: len(base) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            elif node.module == PACKAGE or (node.module or "").startswith(PACKAGE + "."):
                target = node.module[len(PACKAGE) + 1:]
            else:
                continue
            for alias in node.names:
                full = f"{target}.{alias.name}" if target else alias.name
                found.add(full if full in modules else target)
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name == PACKAGE or alias.name.startswith(PACKAGE + "."):
                    found.add(alias.name[len(PACKAGE) + 1:])
    found.discard(name)
    return found


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    return {name: _imports(name, path, modules) for name, path in modules.items()}


def _layer_of() -> dict[str, int]:
    return {m: i for i, (_, names) in enumerate(LAYERS) for m in names}


def _cycles(graph: dict[str, set[str]]) -> set[frozenset[str]]:
    """The strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: set[frozenset[str]] = set()

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = set()
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.add(w)
                if w == v:
                    break
            if len(component) > 1:
                out.add(frozenset(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def test_every_module_has_a_layer():
    layers = _layer_of()
    assert sorted(set(_modules()) - set(layers)) == []
    assert sorted(set(layers) - set(_modules())) == []  # no stale names in the table
    assert sum(len(names) for _, names in LAYERS) == len(layers)  # each module listed once


def test_no_module_imports_upward():
    layers = _layer_of()
    upward = sorted(
        f"{m or PACKAGE} ({LAYERS[layers[m]][0]}) imports {t} ({LAYERS[layers[t]][0]})"
        for m, targets in _graph().items() for t in targets if layers[t] > layers[m]
    )
    assert upward == []


def test_nothing_but_faces_imports_the_faces():
    faces = set(FACES)
    inward = sorted(f"{m or PACKAGE} imports {t}" for m, targets in _graph().items()
                    if m not in faces for t in targets if t in faces)
    assert inward == []
    assert {"core", "data.record_collection", "models.ross.efficientdet.lightning",
            "imports", "utils"} <= faces


def test_no_import_cycles():
    cycles = _cycles(_graph())
    assert sorted(map(sorted, cycles - KNOWN_CYCLES)) == []
    assert sorted(map(sorted, KNOWN_CYCLES - cycles)) == []  # fixed: drop it from KNOWN_CYCLES


@pytest.mark.parametrize(
    "graph, expected",
    [
        ({"a": {"b"}, "b": set()}, set()),
        ({"a": {"b"}, "b": {"a"}}, {frozenset({"a", "b"})}),
        ({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}, {frozenset({"a", "b", "c"})}),
    ],
)
def test_cycle_finder(graph, expected):
    assert _cycles(graph) == expected
