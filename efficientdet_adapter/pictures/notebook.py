"""Figures in Jupyter: a drawing function's figure shows once, in the cell that drew it.

The drawing functions build ``matplotlib.figure.Figure`` objects without pyplot (see
``efficientdet_adapter.pictures.draw``). Outside Jupyter they are only returned (and saved with
``save_path=``). Inside a Jupyter kernel IceVision's functions drew at once, whatever the cell
did with their result; so do ours:

- the kernel gets a PNG formatter for ``Figure`` (unless the inline backend has set its own),
  so a figure returned as the cell's value shows as a picture, not as ``<Figure size ...>``;
- every figure drawn during a cell that the cell did not return as its value is displayed when
  the cell ends (``post_run_cell``): ``fig = show_records(...)``, a loop or a trailing ``;``
  show it too, exactly once.

Nothing here imports IPython: a process that has not imported it is not in a kernel.
"""

from __future__ import annotations

import io
import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["kernel_shell", "show_in_kernel", "withdraw"]

#: Figures drawn in the running cell, displayed when it ends unless it returned them.
_PENDING: list["Figure"] = []
#: ids of the shells whose ``post_run_cell`` event calls ``_flush``.
_HOOKED: set[int] = set()


def kernel_shell() -> Any | None:
    """The running IPython shell when this process is a Jupyter kernel, else None."""
    ipython = sys.modules.get("IPython")
    if ipython is None:
        return None
    shell = ipython.get_ipython()
    return shell if getattr(shell, "kernel", None) is not None else None


def _png(fig: "Figure") -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=fig.dpi)
    return buf.getvalue()


def _hook(shell: Any) -> None:
    from matplotlib.figure import Figure  # noqa: PLC0415

    png = shell.display_formatter.formatters["image/png"]
    try:
        png.lookup_by_type(Figure)
    except KeyError:  # no inline backend loaded yet: the Figure would show as text
        png.for_type(Figure, _png)
    if id(shell) not in _HOOKED:
        shell.events.register("post_run_cell", _flush)
        _HOOKED.add(id(shell))


def _flush(result: Any = None) -> None:
    """Display the cell's pending figures, but not the one the cell returned (already shown)."""
    returned = getattr(result, "result", None)
    figures = list(_PENDING)
    _PENDING.clear()
    if not figures:
        return
    from IPython.display import display  # noqa: PLC0415

    for fig in figures:
        if fig is not returned:
            display(fig)


def show_in_kernel(fig: "Figure") -> None:
    """Show ``fig`` in the running Jupyter cell (once, when the cell ends); elsewhere nothing."""
    shell = kernel_shell()
    if shell is None:
        return
    _hook(shell)
    if all(f is not fig for f in _PENDING):
        _PENDING.append(fig)


def withdraw(fig: "Figure") -> None:
    """Do not display ``fig`` after all (a figure drawn as a step of another function)."""
    _PENDING[:] = [f for f in _PENDING if f is not fig]
