import importlib, json, sys
sys.path.insert(0, ".")
import efficientdet_adapter as pkg
tree = json.load(open("tests/fixtures/icevision_0_12_modules.json"))["modules"]
own = (set(pkg.__all__) - set(pkg.ICEVISION_STAR)) | set(pkg._LAZY)
out = {}
for face in ("utils", "core", "data", "metrics", "visualize"):
    m = importlib.import_module("efficientdet_adapter." + face)
    for n in tree["icevision." + face]:
        if n in own or n in out or n.startswith("_"):
            continue
        try:
            getattr(m, n)
        except AttributeError:
            continue
        out[n] = face
    lines = ['"""The names IceVision 0.12\'s package-wide star import brought from its ``utils``, ``core``,',
         '``data``, ``metrics`` and ``visualize`` packages, beyond the package\'s own ``__all__``: name ->',
         'the face (IceVision\'s package path under efficientdet_adapter) that offers it.',
         '',
         'Generated from tests/fixtures/icevision_0_12_modules.json; tests/test_icevision_suite.py checks',
         'that it lists every such name the faces offer. Data only: the package resolves a name on',
         'first access, so ``import efficientdet_adapter`` stays light."""',
         '', "ICEVISION_STAR: dict[str, str] = {"]
for n, f in out.items():
    lines.append(f"    {n!r}: {f!r},")
lines.append("}")
open("efficientdet_adapter/_icevision_names.py", "w").write("\n".join(lines) + "\n")
print(len(out))
