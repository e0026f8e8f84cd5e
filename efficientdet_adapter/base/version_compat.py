"""The differences between the dependency versions this library supports, in one place.

The supported range (``setup.cfg``; CI runs the suite at both ends) is torch 2.4.1 to 2.14,
fastai 2.7.16 to 2.8, Lightning 2.5.3 to 2.6 in either of its two packages. Code elsewhere calls the
functions here instead of testing versions itself.

Lightning ships one Trainer under two package names: ``lightning`` (``import lightning as L``,
what Lightning's documentation teaches since 2.0; ``lightning.pytorch`` inside it) and the older
``pytorch_lightning`` (IceVision's ``import pytorch_lightning as pl``). Each Trainer accepts only
LightningModules and callbacks of its own package, so the adapter is built on one of them, chosen
by `lightning_package`.

Example:
    >>> lightning_package_name({"pytorch_lightning"}, imported=set(), env=None)
    'pytorch_lightning'
    >>> lightning_package_name({"lightning", "pytorch_lightning"}, imported={"lightning"}, env=None)
    'lightning'
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import contextlib
import functools
import sys
import warnings
from collections.abc import Callable, Collection, Iterator, Sequence
from types import ModuleType
from typing import Any
from efficientdet_adapter.base.errors import UsageError

__all__ = [
    "LIGHTNING_ENV",
    "LIGHTNING_PACKAGES",
    "IMPORT_NOTICES",
    "import_effdet_quietly",
    "import_fastai_quietly",
    "import_quietly",
    "lightning_package",
    "lightning_package_name",
    "adamw_step",
    "register_load_state_dict_pre_hook",
    "safe_globals",
]

#: Set to ``lightning`` or ``pytorch_lightning`` to choose the package when both are installed.
LIGHTNING_ENV = "EFFICIENTDET_ADAPTER_LIGHTNING"
#: The importable names of Lightning's two packages, in the order they are preferred when the
#: program has imported neither (IceVision's code imports ``pytorch_lightning``).
LIGHTNING_PACKAGES = ("pytorch_lightning", "lightning")

_LIGHTNING_MISSING = ("{what} needs Lightning: pip install 'efficientdet_adapter[lightning]' "
                      "(the `lightning` package) or 'efficientdet_adapter[pytorch-lightning]'")


def lightning_package_name(installed: Collection[str], imported: Collection[str],
                           env: str | None) -> str | None:
    """Which Lightning package to build on, from what is installed and already imported.

    1. ``$EFFICIENTDET_ADAPTER_LIGHTNING`` (``lightning`` or ``pytorch_lightning``) when set;
    2. the only one installed;
    3. both installed: ``lightning`` when the program has imported it (a user who wrote
       ``import lightning as L``), else ``pytorch_lightning``.

    Returns None when neither is installed.

    Raises:
        ValueError: the environment variable names another package, or one not installed.
    """
    if env:
        if env not in LIGHTNING_PACKAGES:
            raise UsageError(f"{LIGHTNING_ENV}={env!r}: use one of {', '.join(LIGHTNING_PACKAGES)}")
        if env not in installed:
            raise UsageError(f"{LIGHTNING_ENV}={env}: that package is not installed "
                             f"(pip install {env.replace('_', '-')})")
        return env
    found = [name for name in LIGHTNING_PACKAGES if name in installed]
    if len(found) <= 1:
        return found[0] if found else None
    return "lightning" if "lightning" in imported else "pytorch_lightning"


def _installed(name: str) -> bool:
    if name in sys.modules:  # None there: blocked on purpose, as if not installed
        return sys.modules[name] is not None
    return importlib.util.find_spec(name) is not None


def lightning_package(what: str = "this") -> ModuleType:
    """The Lightning package to build on, imported: ``pytorch_lightning`` or ``lightning.pytorch``
    (chosen by `lightning_package_name` from this process).

    Args:
        what: the feature that needs Lightning, named in the ImportError.

    Raises:
        ImportError: neither package is installed (the message says which extra to install).
    """
    from efficientdet_adapter.base.errors import UsageError  # noqa: PLC0415

    installed = {name for name in LIGHTNING_PACKAGES if _installed(name)}
    try:
        name = lightning_package_name(installed, set(sys.modules), os.environ.get(LIGHTNING_ENV))
    except ValueError as e:
        raise UsageError(str(e)) from None
    if name is None:
        raise ImportError(_LIGHTNING_MISSING.format(what=what))
    quiet_lightning(name)
    return importlib.import_module("lightning.pytorch" if name == "lightning" else name)


def register_load_state_dict_pre_hook(module: Any, hook: Callable[..., None]) -> None:
    """``module.register_load_state_dict_pre_hook(hook)``; torch before 2.5 has it only under a
    private name, with the same call ``hook(module, state_dict, prefix, ...)``."""
    public = getattr(module, "register_load_state_dict_pre_hook", None)
    if public is not None:
        public(hook)
    else:  # torch 2.4
        module._register_load_state_dict_pre_hook(hook, with_module=True)


#: Notices that dependencies raise while they are imported, meant for their own authors: users
#: can do nothing about them. (category, message regex, who raises it and when.)
IMPORT_NOTICES: tuple[tuple[type[Warning], str], ...] = (
    # torch >= 2.10, for the torch.jit.script calls effdet and fastai make at import time
    (FutureWarning, r"`torch\.jit\.script` is deprecated"),
    # pandas >= 3, for the option fastai.tabular sets at import time (fastai.basics imports it)
    (Warning, r"The 'mode\.chained_assignment' option is deprecated"),
    # tqdm.auto in a Jupyter kernel without ipywidgets, imported by huggingface_hub (timm
    # imports it): the bars fall back to text, which is all the warning says
    (Warning, r"IProgress not found"),
)


def tqdm_class() -> type:
    """tqdm's bar class for this process: ``tqdm.auto``'s (the notebook widget in Jupyter) when
    ipywidgets is installed, else the text bar. Without ipywidgets ``tqdm.auto`` falls back to the
    text bar too, but first warns "IProgress not found" into every notebook that imports it."""
    if importlib.util.find_spec("ipywidgets") is None:
        from tqdm.std import tqdm  # noqa: PLC0415
    else:
        from tqdm.auto import tqdm  # noqa: PLC0415
    return tqdm


#: Lightning's messages that advertise its cloud products ("💡 Tip: ... litlogger"), logged on
#: every Trainer: not about the user's run, so the library's import of Lightning drops them.
LIGHTNING_ADVERTS = "💡 Tip:"
#: Lightning's own deprecation notices under torch versions newer than it knows (raised inside
#: its fit loop, about its own code): users can do nothing about them.
LIGHTNING_NOTICES: tuple[tuple[type[Warning], str], ...] = (
    (Warning, r"`isinstance\(treespec, LeafSpec\)` is deprecated"),
)


class _DropAdverts:
    """A logging filter that drops Lightning's tips (`LIGHTNING_ADVERTS`)."""

    def filter(self, record: Any) -> bool:
        return not str(record.msg).startswith(LIGHTNING_ADVERTS)


def quiet_lightning(name: str) -> None:
    """Drop `LIGHTNING_ADVERTS` from the ``name`` Lightning package's log and ignore its
    `LIGHTNING_NOTICES`; every other message passes through. Called once per package."""
    import logging  # noqa: PLC0415

    pkg = "lightning.pytorch" if name == "lightning" else name
    for logger_name in (f"{pkg}.utilities.rank_zero", "lightning.fabric.utilities.rank_zero"):
        logger = logging.getLogger(logger_name)
        if not any(isinstance(f, _DropAdverts) for f in logger.filters):
            logger.addFilter(_DropAdverts())
    for category, message in LIGHTNING_NOTICES:
        warnings.filterwarnings("ignore", message=message, category=category)


def import_quietly(name: str) -> ModuleType:
    """``importlib.import_module(name)`` without the `IMPORT_NOTICES`; every other
    warning passes through. The library imports effdet and fastai through it."""
    if name in sys.modules:
        return sys.modules[name]
    with warnings.catch_warnings():
        for category, message in IMPORT_NOTICES:
            warnings.filterwarnings("ignore", message=message, category=category)
        return importlib.import_module(name)


def import_effdet_quietly() -> None:
    """Import effdet (see `import_quietly`)."""
    import_quietly("effdet")


def import_fastai_quietly() -> None:
    """Import fastai's core (see `import_quietly`); raises ImportError without fastai."""
    import_quietly("fastai.basics")


@contextlib.contextmanager
def safe_globals(classes: Sequence[type]) -> Iterator[None]:
    """``torch.serialization.safe_globals(classes)``: allow these classes in
    ``torch.load(weights_only=True)`` inside the block. torch 2.4 has only the process-wide
    ``add_safe_globals``; there the allow-list is restored on exit."""
    import torch.serialization as serialization  # noqa: PLC0415

    if hasattr(serialization, "safe_globals"):
        with serialization.safe_globals(list(classes)):
            yield
        return
    before = serialization.get_safe_globals()  # torch 2.4
    serialization.add_safe_globals(list(classes))
    try:
        yield
    finally:
        serialization.clear_safe_globals()
        serialization.add_safe_globals(before)


def adamw_step(*args: Any, **kwargs: Any) -> None:
    """torch's functional AdamW step (the arguments of ``torch.optim.adam.adam``, without
    ``decoupled_weight_decay``): from torch 2.6 ``adam(..., decoupled_weight_decay=True)``,
    before it ``torch.optim.adamw.adamw(...)``, which computes the same update."""
    _functional_adamw()(*args, **kwargs)


@functools.lru_cache(maxsize=1)
def _functional_adamw() -> Callable[..., None]:
    """Looked up once (not at every optimizer step)."""
    import inspect  # noqa: PLC0415

    from torch.optim import adam as adam_module  # noqa: PLC0415

    if "decoupled_weight_decay" in inspect.signature(adam_module.adam).parameters:
        return functools.partial(adam_module.adam, decoupled_weight_decay=True)
    from torch.optim.adamw import adamw  # torch < 2.6  # noqa: PLC0415

    return adamw
