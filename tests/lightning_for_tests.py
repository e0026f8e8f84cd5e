"""The Lightning package the tests build on: the one the library picks (``pytorch_lightning`` or
``lightning.pytorch``, see ``efficientdet_adapter.base.version_compat``), with its ``ModelAdapter``, so
that each test's Trainer and adapter come from one package whichever is installed."""

from __future__ import annotations

from types import ModuleType

import pytest


def lightning_or_skip() -> ModuleType:
    """The package the library's Lightning callbacks are built on; skips the test (or module)
    when neither Lightning package is installed."""
    try:
        from efficientdet_adapter.engines.lightning.callbacks import pl
    except ImportError as e:
        pytest.skip(f"no Lightning package installed: {e}")
    return pl


def model_adapter() -> type:
    """``ModelAdapter`` built on :func:`lightning_or_skip`'s package."""
    from efficientdet_adapter.efficientdet.lightning import model_adapter_class

    return model_adapter_class(lightning_or_skip())
