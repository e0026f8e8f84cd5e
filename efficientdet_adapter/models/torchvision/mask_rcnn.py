"""Not offered: see the package."""

from . import MESSAGE

raise ImportError(MESSAGE)
