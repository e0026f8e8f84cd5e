"""What a command printed that came from a dependency rather than from this library."""

from __future__ import annotations

import re

# Python's warning line: "<file>:<line>: <Category>Warning: <message>"
_WARNING = re.compile(r"^(?P<file>\S+\.py):\d+: (?P<category>\w*Warning): ", re.MULTILINE)


def dependency_warnings(output: str) -> list[str]:
    """The warning lines in ``output`` raised from files outside this library."""
    return [m.group(0) + output[m.end():].split("\n", 1)[0] for m in _WARNING.finditer(output)
            if "efficientdet_adapter" not in m.group("file")]
