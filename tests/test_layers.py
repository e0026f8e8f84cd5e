"""The package's layers only look down: imports (top-level and inside functions alike) parsed
with ``ast``, checked against the layer order written here, and searched for cycles."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest

PACKAGE = "efficientdet_adapter"
ROOT = Path(__file__).resolve().parents[1] / PACKAGE

#: IceVision 0.12's module paths that are this library's own modules (in the layers below); every
#: other path of IceVision's tree (tests/fixtures/icevision_0_12_modules.json) is a face.
ICEVISION_PATHS_OF_OUR_MODULES = {
    "metrics", "parsers", "tfms", "models.utils", "models.interpretation",
    "models.inference_sahi", "engines", "engines.fastai",
}
_TREE = json.loads((Path(__file__).parent / "fixtures" / "icevision_0_12_modules.json").read_text())
#: IceVision's faces (and the model families that refuse to import, and ``all``, IceVision's
#: one-liner): the top, since nothing inside the package may import them.
FACES = sorted(
    {m.removeprefix("icevision.") for m in _TREE["modules"]} - ICEVISION_PATHS_OF_OUR_MODULES
    | {"models.mmdet", "models.torchvision", "models.ultralytics", "models.fastai", "all",
       "soft_dependencies"}
    | {f"models.torchvision.{m}" for m in ("faster_rcnn", "retinanet", "mask_rcnn", "keypoint_rcnn")}
)

#: The folders, lowest first: a module may import modules of its own folder or of the folders
#: below it (imports inside functions count). A new folder gets a place here (the first test
#: fails until it has one). docs/architecture.md says what each holds.
LAYERS: list[str] = [
    "base",         # errors, argument checks, atomic writes, devices, word lists, face helpers
    "records",      # boxes, class maps, images, records, splits, Dataset, Prediction
    "parsers",      # files -> records, records -> files
    "tfms",         # albumentations over records
    "pictures",     # drawing records, samples and predictions
    "metrics",      # COCOMetric, per-class scores
    "weights",      # tensors in files: reading, the hub, packaged backbones; which start
    "model/ops",    # effdet-equal ops: targets, anchor labels, NMS, post-processing
    "model",        # config, backbones, wrappers, sizes, anchors, the model, its runtime, transfer
    "checkpoints",  # save, load, convert, export
    "loop",         # data loaders, the plain steps, per-step numbers
    "inference",    # one batch-prediction loop, files, tiles, video, interpretation
    "training",     # options, state, logs, lock, resume, budget, plots
    "engines",      # the run core
    "engines/fastai", "engines/lightning",  # each engine's shells over the core
    "app",          # runs, check, demo, run config
    "app/cli",      # the command line: one module per command (parse, call, print)
]
#: Folders that are faces (IceVision's packages and this library's verbs), above every layer.
FACE_FOLDERS = ["", "efficientdet", "visualize", "core", "data", "utils", "models", "metrics/coco_metric",
                "metrics/confusion_matrix",
                "tfms/albumentations", "tfms/batch", "engines/fastai/adapters", "engines/fastai/learner"]

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


def _folder(name: str, modules: dict[str, Path]) -> str:
    """The folder a module's file sits in (a package's ``__init__`` sits in its own)."""
    return modules[name].parent.relative_to(ROOT).as_posix().replace(".", "")


def _is_face(name: str, modules: dict[str, Path]) -> bool:
    folder = _folder(name, modules)
    return name in FACES or folder in FACE_FOLDERS or any(
        folder.startswith(f + "/") for f in FACE_FOLDERS if f)


def _rank(name: str, modules: dict[str, Path]) -> int:
    """A layer's index, or ``len(LAYERS)`` for a face."""
    return len(LAYERS) if _is_face(name, modules) else LAYERS.index(_folder(name, modules))


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


def test_every_folder_is_a_layer_or_a_face():
    modules = _modules()
    folders = {_folder(m, modules) for m in modules}
    placed = set(LAYERS) | set(FACE_FOLDERS)
    assert sorted(f for f in folders if f not in placed and not any(
        f.startswith(g + "/") for g in FACE_FOLDERS if g)) == []
    assert sorted(placed - folders) == []  # no stale names in the tables
    assert len(LAYERS) == len(set(LAYERS))


def test_no_folder_imports_upward():
    modules = _modules()
    upward = sorted(
        f"{m or PACKAGE} ({_folder(m, modules) or 'root'}) imports {t} ({_folder(t, modules) or 'root'})"
        for m, targets in _graph().items() for t in targets
        if _rank(t, modules) > _rank(m, modules)
    )
    assert upward == []


def test_no_two_folders_import_each_other():
    modules = _modules()
    edges = {(_folder(m, modules), _folder(t, modules)) for m, targets in _graph().items()
             for t in targets if _folder(m, modules) != _folder(t, modules)}
    assert sorted(f"{a or 'root'} <-> {b or 'root'}" for a, b in edges if (b, a) in edges and a < b) == []


def test_nothing_but_faces_imports_the_faces():
    modules = _modules()
    inward = sorted(f"{m or PACKAGE} imports {t}" for m, targets in _graph().items()
                    if not _is_face(m, modules) for t in targets if _is_face(t, modules))
    assert inward == []
    assert {"core", "data.record_collection", "models.ross.efficientdet.lightning",
            "imports", "utils", "efficientdet", "visualize"} <= {
                m for m in modules if _is_face(m, modules)}


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
