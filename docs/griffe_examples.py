"""A Griffe extension for this project's docstrings: ``Example:`` sections are examples.

The package's Google-style docstrings head their doctests ``Example:`` (146 of them; the
doctests run in the tests). Griffe only reads ``Examples:`` as an examples section and renders
``Example:`` as Markdown, where ``targets["bbox"][0]`` looks like a reference link. This
extension renames the heading when Griffe loads a docstring, so the examples render as code.
The source files are not touched.
"""

from __future__ import annotations

import re
from typing import Any

import griffe

_HEADING = re.compile(r"^(\s*)Example:[ \t]*$", re.MULTILINE)


class ExampleSections(griffe.Extension):
    """Rename ``Example:`` section headings to ``Examples:`` in every loaded docstring."""

    def on_instance(self, *, obj: griffe.Object, **kwargs: Any) -> None:
        if obj.docstring is not None:
            obj.docstring.value = _HEADING.sub(r"\1Examples:", obj.docstring.value)
