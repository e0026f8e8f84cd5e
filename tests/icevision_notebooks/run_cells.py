"""Run a notebook's code cells in order, in one namespace, the way a Jupyter kernel would.

Usage: ``python run_cells.py NOTEBOOK.ipynb [--keep-going]``. Lines starting with ``!`` or ``%``
(shell commands and magics) are skipped. Prints one JSON line at the end:
``{"cells": N, "ran": K, "failed": [[index, "error"], ...]}``; exits 1 when a cell failed.
"""

from __future__ import annotations

import json
import sys
import traceback


def code_cells(path: str) -> list[str]:
    with open(path, encoding="utf-8") as f:
        nb = json.load(f)
    return ["".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code"]


def main(argv: list[str]) -> int:
    path, keep_going = argv[0], "--keep-going" in argv
    namespace: dict = {"__name__": "__main__"}
    cells = code_cells(path)
    failed: list[list] = []
    ran = 0
    for i, source in enumerate(cells):
        lines = [line for line in source.splitlines() if not line.lstrip().startswith(("!", "%"))]
        print(f"--- cell {i}", flush=True)
        try:
            exec(compile("\n".join(lines), f"<cell {i}>", "exec"), namespace)
            ran += 1
        except Exception as e:  # noqa: BLE001 - report every failure, as a notebook shows it
            traceback.print_exc()
            failed.append([i, f"{type(e).__name__}: {e}"[:300]])
            if not keep_going:
                break
    print(json.dumps({"cells": len(cells), "ran": ran, "failed": failed}))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
