"""The ``efficientdet-adapter`` command (also ``python -m efficientdet_adapter``).

Subcommands: ``train``, ``eval``, ``predict``, ``export`` and ``demo`` (writes the synthetic demo
dataset, trains on it, scores held-out images). ``efficientdet-adapter <command> --help`` lists
each one's options.

Errors: every mistake a user can make (an argument out of range, a missing file, a malformed
annotation, an output path that cannot be written, a checkpoint that does not fit) is one of the
library's own [`AdapterError`][efficientdet_adapter.base.errors.AdapterError] family; `main` prints it as
one line naming the argument or file and the fix, and exits with status 2. Arguments and output
paths are all checked before any data is read or any model is built, and no output is ever
written over an input file.

Example:
    $ efficientdet-adapter demo --out runs/demo
    $ efficientdet-adapter train --data shapes.v1i.coco.zip --epochs 12 --out runs/shapes
    $ efficientdet-adapter predict photos/ --checkpoint runs/shapes/model.pt --out preds/

One module per command (``train``, ``eval``, ``predict``, ``export``, ``demo``, ``check``), each
with its ``add_command`` (its flags) and ``cmd_*`` (parse, call the library, print); ``common``
and ``values`` hold the checks and argparse types they share, ``main`` the parser and the
one-line errors.
"""

from efficientdet_adapter.app.cli.common import check_output_file, check_output_folder
from efficientdet_adapter.app.cli.command_line import build_parser, main

__all__ = ["main", "build_parser", "check_output_folder", "check_output_file"]
