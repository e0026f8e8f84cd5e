"""Execute a notebook in a real Jupyter kernel (nbclient + ipykernel), as Jupyter does.

Every cell runs in order in one IPython kernel: magics, ``display``, ``%matplotlib inline``,
fastai's and tqdm's notebook progress bars and rich ``_repr_*_`` are the kernel's own. A cell
error stops the run and raises :class:`NotebookFailed` naming the notebook and the cell.

As a script it stores a notebook with its outputs::

    python tests/notebooks/kernel.py notebooks/getting_started.ipynb

runs it in a fresh temporary folder (with the notebook's own full settings), and writes it back
with its outputs and the hash of its code (see :func:`code_hash`).
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import os
import sys
import tempfile
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError
from PIL import Image

REPO_ROOT = Path(__file__).resolve().parents[2]
#: Set to 1 by the tests: notebooks read it in their parameters cell and take tiny settings.
QUICK_ENV = "EFFICIENTDET_ADAPTER_NOTEBOOK_QUICK"
#: The notebook metadata key holding the hash of the code the stored outputs came from.
HASH_KEY = "efficientdet_adapter"
#: Stored pictures: a PNG over MAX_PNG_BYTES is stored as a JPEG of at most MAX_SIDE pixels.
MAX_PNG_BYTES = 120_000
MAX_SIDE = 900


#: Warnings about the machine that stores the notebooks, not about their code: this kernel has
#: no ipywidgets (rich's live display asks for it), and the quick data has fewer batches than
#: Lightning's default logging interval. Ignored in the kernel so the stored pages stay clean.
ENVIRONMENT_NOTICES = ('install "ipywidgets" for Jupyter support',
                       "The number of training batches")


class NotebookFailed(AssertionError):
    """A cell of the notebook raised; the message holds the cell's source and traceback."""


def code_hash(nb: nbformat.NotebookNode) -> str:
    """sha256 of the code cells' sources, in order: what stored outputs must have come from."""
    code = "\n\0".join("".join(c.source) for c in nb.cells if c.cell_type == "code")
    return hashlib.sha256(code.encode("utf-8")).hexdigest()


def kernel_env(**extra: str) -> dict[str, str]:
    """The kernel's environment: this checkout's package first on the path, no network."""
    env = {k: v for k, v in os.environ.items() if k not in ("MPLBACKEND",)}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")]))
    env.setdefault("OMP_NUM_THREADS", "1")
    env["EFFICIENTDET_ADAPTER_OFFLINE"] = "1"
    env["PYDEVD_DISABLE_FILE_VALIDATION"] = "1"  # the kernel's debugger warns about frozen modules
    env["PYTHONWARNINGS"] = ",".join(f"ignore:{m}" for m in ENVIRONMENT_NOTICES)
    env.update(extra)
    return env


def execute(path: str | Path, cwd: str | Path, env: dict[str, str] | None = None,
            timeout: int = 900) -> nbformat.NotebookNode:
    """Run every cell of the notebook at ``path`` in a fresh kernel started in ``cwd``.

    Returns the executed notebook (outputs filled in); the file on disk is not changed.

    Raises:
        NotebookFailed: a cell raised (its index, source and traceback are in the message).
    """
    path = Path(path)
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(nb, timeout=timeout, kernel_name="python3", allow_errors=False,
                            resources={"metadata": {"path": str(cwd)}})
    try:
        client.execute(env=env if env is not None else kernel_env())
    except CellExecutionError as e:
        raise NotebookFailed(f"{path.name}: a cell failed in the kernel:\n{e}"[-6000:]) from None
    return nb


def output_text(nb: nbformat.NotebookNode) -> str:
    """Everything the notebook printed or displayed as text (streams, plain text and HTML)."""
    parts = []
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            if out.output_type == "stream":
                parts.append(out.text)
            elif out.output_type in ("display_data", "execute_result"):
                for mime in ("text/plain", "text/html"):
                    if mime in out.data:
                        parts.append(out.data[mime])
            elif out.output_type == "error":
                parts.append("\n".join(out.traceback))
    return "\n".join(parts)


def images(nb: nbformat.NotebookNode) -> list[str]:
    """The base64 pictures (PNG or JPEG) the notebook displayed, in order."""
    return [out.data.get("image/png") or out.data["image/jpeg"]
            for cell in nb.cells for out in cell.get("outputs", [])
            if out.output_type in ("display_data", "execute_result")
            and ("image/png" in out.data or "image/jpeg" in out.data)]


def compact_images(nb: nbformat.NotebookNode, max_side: int = MAX_SIDE,
                   max_png_bytes: int = MAX_PNG_BYTES) -> int:
    """Keep stored pictures small: a displayed PNG larger than ``max_png_bytes`` is scaled to
    at most ``max_side`` pixels and stored as a JPEG (photos compress ~5x better); returns how
    many were changed. The kernel's outputs are otherwise stored as they came."""
    changed = 0
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            data = out.get("data", {}) if out.output_type in ("display_data", "execute_result") else {}
            if "image/png" not in data or len(data["image/png"]) * 3 // 4 <= max_png_bytes:
                continue
            img = Image.open(io.BytesIO(base64.b64decode(data["image/png"])))
            img.thumbnail((max_side, max_side))
            if img.mode in ("RGBA", "LA", "P"):
                white = Image.new("RGB", img.size, "white")
                white.paste(img, mask=img.convert("RGBA").split()[-1])
                img = white
            buf = io.BytesIO()
            img.convert("RGB").save(buf, format="JPEG", quality=80, optimize=True)
            del data["image/png"]
            data["image/jpeg"] = base64.b64encode(buf.getvalue()).decode("ascii")
            out.get("metadata", {}).pop("image/png", None)
            changed += 1
    return changed


def write_stored(nb: nbformat.NotebookNode, path: str | Path) -> Path:
    """Write an executed notebook as stored in the repository: its pictures compacted
    (:func:`compact_images`) and the hash of the code its outputs came from."""
    compact_images(nb)
    nb.metadata[HASH_KEY] = {"code_sha256": code_hash(nb)}
    nbformat.write(nb, path)
    return Path(path)


def store(path: str | Path, cwd: str | Path | None = None, **env: str) -> Path:
    """Execute the notebook in a temporary folder and write it back (:func:`write_stored`)."""
    path = Path(path)
    with tempfile.TemporaryDirectory() as tmp:
        nb = execute(path, cwd or tmp, kernel_env(**env))
    return write_stored(nb, path)


if __name__ == "__main__":
    for arg in sys.argv[1:]:
        print(json.dumps({"stored": str(store(arg))}))
