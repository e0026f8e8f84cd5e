"""In a Jupyter kernel a drawing function's figure shows once, as a PNG, in the cell that drew
it, whatever the cell does with the returned Figure (IceVision drew at once)."""

from __future__ import annotations

import base64

import nbformat

from kernel import execute, kernel_env

SETUP = """\
import numpy as np
from efficientdet_adapter import BBox, ClassMap, Record
from efficientdet_adapter.pictures.draw import show_records
cm = ClassMap(["cat"])
rec = Record(record_id=1, filepath=None, width=64, height=48, labels=["cat"], label_ids=[1],
             bboxes=[BBox.from_xyxy(4, 4, 30, 30)], class_map=cm,
             img=np.full((48, 64, 3), 200, np.uint8))
"""

# (cell source, how the figure reaches the notebook: "result" as the cell's value, else "display")
CELLS = [
    ("show_records([rec], ncols=1)", "result"),
    ("fig = show_records([rec], ncols=1)\nprint(type(fig).__name__)", "display"),
    ("show_records([rec], ncols=1);", "display"),
    ("for _ in range(2):\n    show_records([rec], ncols=1)", "display"),
    ("1 + 1", None),
]


def _pictures(cell) -> list[tuple[str, bytes]]:
    return [(o.output_type, base64.b64decode(o.data["image/png"])) for o in cell.outputs
            if o.output_type in ("display_data", "execute_result") and "image/png" in o.data]


def test_each_figure_shows_once_as_a_png(tmp_path):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(SETUP)] + [nbformat.v4.new_code_cell(src) for src, _ in CELLS]
    path = tmp_path / "figures.ipynb"
    nbformat.write(nb, path)
    out = execute(path, tmp_path, kernel_env(HOME=str(tmp_path)))
    counts = {"result": 1, "display": 1, None: 0}
    for cell, (src, how) in zip(out.cells[1:], CELLS):
        pictures = _pictures(cell)
        expected = 2 if src.startswith("for") else counts[how]
        assert len(pictures) == expected, (src, [o.output_type for o in cell.outputs])
        assert all(png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 2_000 for _, png in pictures)
        if how is not None:
            assert {kind for kind, _ in pictures} == {"execute_result" if how == "result" else "display_data"}
        texts = [str(o.get("data", {}).get("text/plain", "")) + o.get("text", "") for o in cell.outputs]
        assert not any("<Figure size" in t and "image/png" not in o.get("data", {})
                       for t, o in zip(texts, cell.outputs)), src
    assert "Figure" in out.cells[2].outputs[0].text  # the Figure is still returned
