"""``python -m efficientdet_adapter``: the ``efficientdet-adapter`` command line."""

import sys

from efficientdet_adapter.app.cli import main

sys.exit(main())
