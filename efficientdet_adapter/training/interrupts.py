"""How a run is stopped from outside: SIGTERM as Ctrl-C, and the tests' signal hooks.

Schedulers, ``docker stop`` and ``kill`` send SIGTERM, whose default action ends Python at once:
no ``finally`` runs, so the run folder's lock file stays and nothing says how to go on.
`stop_on_sigterm` turns SIGTERM into `Terminated`, a ``KeyboardInterrupt``, for the
block it guards: the run stops as it does on Ctrl-C (``last.pt`` keeps the last finished epoch,
the lock is released, the command line prints the resume command) and exits with status 143
(128 + SIGTERM).

Test-only hooks, set in the environment of a run's process:

* ``EFFICIENTDET_ADAPTER_TEST_SIGNAL_AT_STEP=K[:KILL|INT|TERM]``: the run sends itself the
  signal right after optimizer step ``K`` (`signal_at_step`);
* ``EFFICIENTDET_ADAPTER_TEST_SIGNAL_AFTER_CHECKPOINT=E[:KILL|INT|TERM]``: right after epoch
  ``E``'s ``last.pt`` is written and before its row reaches ``metrics.csv``
  (`signal_after_checkpoint`, called by the run tracker);
* ``EFFICIENTDET_ADAPTER_TEST_STEP_SECONDS=S``: every optimizer step sleeps ``S`` seconds more,
  so tests of ``--time`` see steps of a known, steady length (read by the run core).

Example:
    >>> with stop_on_sigterm():        # doctest: +SKIP
    ...     train_model(...)           # SIGTERM raises Terminated here
"""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["Terminated", "stop_on_sigterm", "SIGNAL_AT_STEP_ENV", "SIGNAL_AFTER_CHECKPOINT_ENV",
           "STEP_SECONDS_ENV", "signal_at_step", "signal_after_checkpoint"]

#: The step hook's environment variable (see the module docstring).
SIGNAL_AT_STEP_ENV = "EFFICIENTDET_ADAPTER_TEST_SIGNAL_AT_STEP"
#: The checkpoint hook's environment variable (see the module docstring).
SIGNAL_AFTER_CHECKPOINT_ENV = "EFFICIENTDET_ADAPTER_TEST_SIGNAL_AFTER_CHECKPOINT"
#: The steady-steps hook's environment variable (see the module docstring).
STEP_SECONDS_ENV = "EFFICIENTDET_ADAPTER_TEST_STEP_SECONDS"


class Terminated(KeyboardInterrupt):
    """SIGTERM arrived inside `stop_on_sigterm`: the run stops as on Ctrl-C."""

    #: The exit status a shell reports for a process ended by SIGTERM.
    exit_code = 128 + signal.SIGTERM


@contextmanager
def stop_on_sigterm() -> Iterator[None]:
    """Raise `Terminated` on SIGTERM inside the block (the main thread of this process
    only: elsewhere, and in processes forked from it, SIGTERM keeps its usual effect). The
    handler that was there before is put back afterwards.

    Yields:
        nothing; use as ``with stop_on_sigterm(): ...``.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    owner, received = os.getpid(), []

    def handler(signum, frame) -> None:
        if os.getpid() != owner:  # a forked worker: end as SIGTERM ends it without us
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            os.kill(os.getpid(), signal.SIGTERM)
            return
        received.append(signum)
        raise Terminated("stopped by SIGTERM")

    before = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    except KeyboardInterrupt as e:  # Lightning turns it into sys.exit, then into a Ctrl-C
        if received and type(e) is KeyboardInterrupt:  # (a subclass already says more)
            raise Terminated("stopped by SIGTERM") from None
        raise
    finally:
        signal.signal(signal.SIGTERM, before)


def _send(setting: str | None, value: int) -> None:
    if not setting:
        return
    at, _, name = setting.partition(":")
    if int(at) == value:
        os.kill(os.getpid(), getattr(signal, f"SIG{(name or 'KILL').upper()}"))


def signal_at_step(step: int, setting: str | None = None) -> None:
    """The step hook: send this process the signal that ``setting`` (default: the
    `SIGNAL_AT_STEP_ENV` variable, ``K`` or ``K:KILL``, ``K:INT``, ``K:TERM``) names at
    step ``K``."""
    _send(os.environ.get(SIGNAL_AT_STEP_ENV) if setting is None else setting, step)


def signal_after_checkpoint(epoch: int) -> None:
    """The checkpoint hook: the signal `SIGNAL_AFTER_CHECKPOINT_ENV` names after epoch
    ``E``'s ``last.pt`` (nothing without the variable)."""
    _send(os.environ.get(SIGNAL_AFTER_CHECKPOINT_ENV), epoch)
