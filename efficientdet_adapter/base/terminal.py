"""Text shown on a terminal: names that come from files (image names, class names) with their
control characters escaped, so that a file cannot drive the terminal (clear it, move the cursor,
hide text with bidi overrides).

Example:
    >>> print(printable("cat\x1b[2J"))
    cat\x1b[2J
"""

from __future__ import annotations

import unicodedata

__all__ = ["printable"]


def printable(text: str) -> str:
    r"""``text`` with terminal control characters (ESC, BEL, carriage return, bidi overrides...)
    written as Python escapes, so that a file name cannot drive the terminal.

    Example:
        >>> print(printable("a\x1b[2Jb.png"))
        a\x1b[2Jb.png
    """
    return "".join(c if unicodedata.category(c) not in ("Cc", "Cf", "Cs", "Co") or c == " "
                   else c.encode("unicode_escape").decode("ascii") for c in text)
