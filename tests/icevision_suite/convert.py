"""Convert IceVision 0.12.0's own tests into this folder, with their imports renamed.

    python tests/icevision_suite/convert.py --repo /path/to/icevision/.git [--ref 0.12.0]

What it does, and nothing more:

* copies the test folders in :data:`FOLDERS` (and ``tests/conftest.py``) from the git tree
  ``--ref`` of IceVision's repository into ``tests/icevision_suite/tests/``, renaming the module
  ``icevision`` to ``efficientdet_adapter`` in import statements and in the dotted targets that
  ``mocker.patch("icevision....")`` imports; no other character of a test changes. It adds an
  empty ``__init__.py`` to each folder that lacks one, so that the copied file names
  (``test_dataset.py``, ``test_utils.py``...) do not collide with this library's own tests;
* writes ``samples.json``: for each file of IceVision's ``samples/`` that the shared data
  (``../shared/data/icevision-samples``) holds byte for byte, which shared file it is (compared by
  SHA-1); the suite's ``conftest.py`` copies those into ``samples/`` (git-ignored) when the suite
  starts. The other sample files the kept tests read are copied into ``samples_extra/``;
  ``images2/flies.jpeg`` (3.2 MB, over the repository's 2 MB limit, read by one test for its size
  only) is written as a flat JPEG of the same size and EXIF orientation;
* copies IceVision's ``LICENSE`` (Apache-2.0) beside them.

Run it again after changing nothing, and nothing changes (the output is deterministic).
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import re
import shutil
import subprocess
import tarfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
SHARED_SAMPLES = HERE.parents[2] / "shared" / "data" / "icevision-samples"

#: IceVision's test folders (and files) this library covers.
FOLDERS = (
    "tests/conftest.py", "tests/core", "tests/parsers", "tests/transforms", "tests/metrics",
    "tests/data", "tests/utils", "tests/visualize", "tests/engines/lightning",
    "tests/models/efficient_det",
)
#: Sample folders only masks, keypoints, segmentation or other model families read.
UNUSED_SAMPLES = ("samples/camvid/", "samples/ochuman/", "samples/mmdet/", "samples/sahi/",
                  "samples/keypoints_annotations.json", "samples/voc/Segmentation")
#: Sample files over the repository's size limit, written as flat images of the same geometry.
STAND_INS = {"samples/images2/flies.jpeg"}

_IMPORT = re.compile(r"^(\s*(?:from|import)\s+)icevision\b", re.MULTILINE)
_PATCH_TARGET = re.compile(r"""(\.patch\(\s*["'])icevision\.""")


def rename_imports(source: str) -> str:
    """``icevision`` -> ``efficientdet_adapter`` where a statement imports it; nothing else.

    >>> rename_imports("from icevision.all import *\\nx = 'icevision'\\n")
    "from efficientdet_adapter.all import *\\nx = 'icevision'\\n"
    """
    source = _IMPORT.sub(r"\1efficientdet_adapter", source)
    # `import icevision` binds the name `icevision`, which the test then reads
    source = re.sub(r"^([ \t]*import[ \t]+efficientdet_adapter)[ \t]*$", r"\1 as icevision",
                    source, flags=re.MULTILINE)
    return _PATCH_TARGET.sub(r"\1efficientdet_adapter.", source)


def _archive(repo: Path, ref: str, paths: list[str]) -> dict[str, bytes]:
    data = subprocess.run(["git", "-C", str(repo), "archive", "--format=tar", ref, *paths],
                          check=True, capture_output=True).stdout
    out = {}
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        for member in tar.getmembers():
            if member.isfile():
                out[member.name] = tar.extractfile(member).read()
    return out


def _stand_in_jpeg(original: bytes) -> bytes:
    from PIL import Image

    with Image.open(io.BytesIO(original)) as im:
        size, exif = im.size, im.getexif()
    keep = Image.Exif()
    if 274 in exif:  # the orientation tag: open_img turns the picture by it
        keep[274] = exif[274]
    buf = io.BytesIO()
    Image.new("RGB", size, (128, 128, 128)).save(buf, "JPEG", quality=50, exif=keep.tobytes())
    return buf.getvalue()


def convert(repo: Path, ref: str, out: Path = HERE, shared: Path = SHARED_SAMPLES) -> dict:
    """Write the converted tests, ``samples.json``, ``samples_extra/`` and ``LICENSE`` to ``out``;
    returns counts of what was written."""
    files = _archive(repo, ref, [*FOLDERS, "samples", "LICENSE"])
    tests_out = out / "tests"
    for folder in (tests_out, out / "samples_extra"):
        shutil.rmtree(folder, ignore_errors=True)
    n_tests = 0
    for name, data in sorted(files.items()):
        if not name.startswith("tests/"):
            continue
        target = out / name
        target.parent.mkdir(parents=True, exist_ok=True)
        if name.endswith(".py"):
            target.write_text(rename_imports(data.decode("utf-8")), encoding="utf-8")
            n_tests += name.rsplit("/", 1)[-1].startswith("test_")
        else:
            target.write_bytes(data)
    for folder in [tests_out, *(p for p in tests_out.rglob("*") if p.is_dir())]:
        if "__pycache__" not in folder.parts and not (folder / "__init__.py").exists():
            (folder / "__init__.py").write_text("", encoding="utf-8")
    (out / "LICENSE").write_bytes(files["LICENSE"])

    shared_by_sha = {}
    if shared.is_dir():
        for path in sorted(shared.rglob("*")):
            if path.is_file():
                shared_by_sha.setdefault(hashlib.sha1(path.read_bytes()).hexdigest(),
                                         path.relative_to(shared).as_posix())
    manifest, extra = {}, 0
    for name, data in sorted(files.items()):
        if not name.startswith("samples/") or name.startswith(UNUSED_SAMPLES):
            continue
        relative = name[len("samples/"):]
        sha = hashlib.sha1(data).hexdigest()
        if sha in shared_by_sha:
            manifest[relative] = shared_by_sha[sha]
            continue
        target = out / "samples_extra" / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(_stand_in_jpeg(data) if name in STAND_INS else data)
        extra += 1
    (out / "samples.json").write_text(json.dumps(
        {"source": f"airctic/icevision {ref} samples/", "from_shared": manifest}, indent=1) + "\n")
    return {"test_files": n_tests, "shared_samples": len(manifest), "extra_samples": extra}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repo", type=Path, required=True, help="IceVision's git directory")
    parser.add_argument("--ref", default="0.12.0", help="the tag or commit (default 0.12.0)")
    parser.add_argument("--out", type=Path, default=HERE, help="where to write (this folder)")
    parser.add_argument("--shared", type=Path, default=SHARED_SAMPLES,
                        help="the shared copy of IceVision's samples")
    args = parser.parse_args()
    print(convert(args.repo, args.ref, args.out, args.shared))


if __name__ == "__main__":
    main()
