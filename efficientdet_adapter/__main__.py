"""``python -m efficientdet_adapter``: the ``efficientdet-adapter`` command line."""

import sys

from .cli import main

sys.exit(main())
