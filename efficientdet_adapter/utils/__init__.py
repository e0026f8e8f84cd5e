"""IceVision 0.12's ``icevision.utils``: its helpers that this library has."""

from __future__ import annotations

from efficientdet_adapter.base.faces import gather, merged_not_offered, not_offered
from efficientdet_adapter.utils import utils
from efficientdet_adapter.utils import io
from efficientdet_adapter.utils import indexable_dict
from efficientdet_adapter.utils import torch_utils
from efficientdet_adapter.utils import imageio
from efficientdet_adapter.utils import get_files
from efficientdet_adapter.utils import download_utils
from efficientdet_adapter.utils import data_dir
from efficientdet_adapter.utils import capture_stdout
from efficientdet_adapter.utils import logger_utils
from efficientdet_adapter.utils import code_template

__all__ = gather(globals(), utils, io, indexable_dict, torch_utils, imageio, get_files, download_utils, data_dir, capture_stdout, logger_utils)
NOT_OFFERED: dict[str, str] = merged_not_offered(utils, io, indexable_dict, torch_utils, imageio, get_files, download_utils, data_dir, capture_stdout, logger_utils)
__getattr__ = not_offered(__name__, NOT_OFFERED)
# IceVision's `utils.get_files` was its function, not the module: the name says why it is not
# offered (the module imports by its path as before).
del get_files
