"""Rewrite the package's Sphinx roles as mkdocstrings cross-references.

The docstrings were written with Sphinx roles (``:class:`Record```, ``:func:`~.x.predict```,
``:mod:`.steps```), which mkdocstrings renders as literal text. This script turns each into
autorefs' link syntax with the object's full path, resolved in the docstring's own module (and
class), as Python would resolve the name there::

    :class:`Record`               -> [`Record`][efficientdet_adapter.records.record.Record]
    :func:`~.tiling.predict_tiled` -> [`predict_tiled`][efficientdet_adapter.inference.tiling.predict_tiled]

A name that resolves to nothing the site documents (another package's object, a private helper)
becomes plain code (`` `Name` ``) and is listed. Run from the repository root with the site built
once (its anchors are the targets that exist)::

    mkdocs build --site-dir /tmp/site && python docs/sphinx_roles.py /tmp/site

``--check`` only lists the roles left (exit 1 when there are any); ``--wrap`` only re-wraps
converted lines longer than 100 characters.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import re
import sys
import types
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
PACKAGE = "efficientdet_adapter"
ROLE = re.compile(r":(class|func|meth|mod|attr|data|exc|obj):`([^`]+)`")


def module_name(path: Path) -> str:
    rel = path.relative_to(REPO_ROOT).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def enclosing_classes(source: str) -> dict[int, list[str]]:
    """line number -> the class names around it, outermost first."""
    out: dict[int, list[str]] = {}

    def visit(node: ast.AST, stack: list[str]) -> None:
        for child in ast.iter_child_nodes(node):
            inner = stack + [child.name] if isinstance(child, ast.ClassDef) else stack
            if isinstance(child, ast.ClassDef):
                for line in range(child.lineno, (child.end_lineno or child.lineno) + 1):
                    out[line] = inner
            visit(child, inner)

    visit(ast.parse(source), [])
    return out


def canonical(obj: object, found_as: str) -> list[str]:
    """The paths the object may be documented under, best first."""
    paths = []
    if isinstance(obj, types.ModuleType):
        paths.append(obj.__name__)
    else:
        mod, qual = getattr(obj, "__module__", None), getattr(obj, "__qualname__", None)
        if isinstance(mod, str) and isinstance(qual, str) and "<" not in qual:
            paths.append(f"{mod}.{qual}")
    paths.append(found_as)
    return paths


def resolve(target: str, module: str, classes: list[str]) -> list[str]:
    """Candidate full paths for ``target`` as written in ``module`` (inside ``classes``)."""
    if target.startswith("."):  # relative to the package, else (as Sphinx) to a parent's
        package = module if (REPO_ROOT / module.replace(".", "/")).is_dir() else module.rpartition(".")[0]
        dots = len(target) - len(target.lstrip("."))
        for _ in range(dots - 1):
            package = package.rpartition(".")[0]
        while package:
            found = resolve(f"{package}.{target.lstrip('.')}", module, classes)
            if found:
                return found
            package = package.rpartition(".")[0]
        return []
    mod = importlib.import_module(module)
    first, _, rest = target.partition(".")
    scopes: list[tuple[object, str]] = []
    if target.startswith(PACKAGE + ".") or target == PACKAGE:
        scopes.append((importlib.import_module(PACKAGE), PACKAGE))
        first, _, rest = target[len(PACKAGE) + 1:].partition(".") if target != PACKAGE else ("", "", "")
        if not first:
            return [PACKAGE]
    else:
        owner: object = mod
        path = module
        for name in classes:  # the enclosing class's own names first (methods, attributes)
            owner = getattr(owner, name, None)
            path = f"{path}.{name}"
            if owner is not None:
                scopes.insert(0, (owner, path))
        scopes.append((mod, module))
        scopes.append((importlib.import_module(PACKAGE), PACKAGE))
    for scope, path in scopes:
        try:
            obj = inspect.getattr_static(scope, first) if inspect.isclass(scope) else getattr(scope, first)
        except AttributeError:
            try:
                obj = importlib.import_module(f"{path}.{first}")
            except ImportError:
                continue
        found = f"{path}.{first}"
        ok = True
        for part in filter(None, rest.split(".")):
            try:
                obj = getattr(obj, part)
            except AttributeError:
                try:
                    obj = importlib.import_module(f"{found}.{part}")
                except ImportError:
                    ok = False
                    break
            found = f"{found}.{part}"
        if ok:
            if isinstance(obj, (staticmethod, classmethod)):
                obj = obj.__func__
            if isinstance(obj, property):
                return [found]
            return canonical(obj, found)
    return []


def convert(path: Path, anchors: set[str], unresolved: list[str]) -> int:
    source = path.read_text(encoding="utf-8")
    if not ROLE.search(source):
        return 0
    module = module_name(path)
    classes = enclosing_classes(source)
    lines = source.splitlines(keepends=True)
    count = 0
    for i, line in enumerate(lines):
        if line.lstrip().startswith("#"):  # comments are read in the code, not on the site
            continue

        def replace(m: re.Match[str]) -> str:
            nonlocal count
            count += 1
            target = m.group(2).strip()
            shown = target.lstrip("~.").rsplit(".", 1)[-1] if target.startswith("~") else target.lstrip(".")
            for candidate in resolve(target.lstrip("~"), module, classes.get(i + 1, [])):
                if candidate in anchors:
                    return f"[`{shown}`][{candidate}]"
            unresolved.append(f"{path.relative_to(REPO_ROOT)}:{i + 1}: {m.group(0)}")
            return f"`{shown}`"

        lines[i] = wrap(ROLE.sub(replace, line))
    path.write_text("".join(lines), encoding="utf-8")
    return count


MAX_LINE = 100
_ITEM = re.compile(r"^(\w[\w, ]*: |[-*] |\d+\. )")


def _break_at(line: str, limit: int) -> int:
    """The last space before ``limit`` that is outside backticks and link brackets, or -1."""
    depth, ticks, best = 0, False, -1
    for i, ch in enumerate(line[:limit + 1]):
        if ch == "`":
            ticks = not ticks
        elif ch == "[" and not ticks:
            depth += 1
        elif ch == "]" and not ticks:
            depth -= 1
        elif ch == " " and not ticks and depth == 0 and line[:i].strip():
            best = i
    return best


def wrap(line: str) -> str:
    """A converted docstring line longer than :data:`MAX_LINE`, broken at spaces outside links
    (a continuation keeps the paragraph: an argument's or a list item's one is indented)."""
    body = line.rstrip("\n")
    indent = len(body) - len(body.lstrip())
    stripped = body.lstrip()
    if len(body) <= MAX_LINE or "][efficientdet_adapter" not in body or stripped.startswith(("|", ">>>", "...")):
        return line
    item = _ITEM.match(stripped)
    cont = indent + (4 if item and item.group(1).endswith(": ") else len(item.group(1)) if item else 0)
    out = []
    while len(body) > MAX_LINE:
        cut = _break_at(body, MAX_LINE)
        if cut <= indent:
            break
        out.append(body[:cut].rstrip())
        body = " " * cont + body[cut + 1:].lstrip()
    out.append(body)
    return "\n".join(out) + ("\n" if line.endswith("\n") else "")


def site_anchors(site: Path) -> set[str]:
    ids: set[str] = set()
    for html in (site / "api").rglob("*.html"):
        ids.update(re.findall(r'id="(efficientdet_adapter[\w.]*)"', html.read_text(encoding="utf-8")))
    return ids


def main(argv: list[str]) -> int:
    files = sorted((REPO_ROOT / PACKAGE).rglob("*.py"))
    if argv[:1] == ["--check"]:
        left = [f"{p.relative_to(REPO_ROOT)}: {m.group(0)}" for p in files
                for m in ROLE.finditer(p.read_text(encoding="utf-8"))]
        print("\n".join(left))
        return 1 if left else 0
    if argv[:1] == ["--wrap"]:  # only re-wrap the long lines of converted references
        for p in files:
            text = p.read_text(encoding="utf-8")
            wrapped = "".join(wrap(line) for line in text.splitlines(keepends=True))
            if wrapped != text:
                p.write_text(wrapped, encoding="utf-8")
        return 0
    sys.path.insert(0, str(REPO_ROOT))
    anchors = site_anchors(Path(argv[0]))
    unresolved: list[str] = []
    total = sum(convert(p, anchors, unresolved) for p in files)
    print(f"{total} roles converted, {total - len(unresolved)} to links; plain code:")
    print("\n".join(unresolved))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
