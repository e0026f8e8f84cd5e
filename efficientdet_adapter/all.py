"""One import for notebooks: ``from efficientdet_adapter.all import *``.

Nothing inside the package imports from here; library code imports what it uses by name.
"""

from __future__ import annotations

from . import __all__ as _core_names
from . import *  # noqa: F401,F403  (this module exists to offer the one-liner)
from . import efficientdet
from .demo import write_demo_dataset

__all__ = [*_core_names, "efficientdet", "write_demo_dataset"]
