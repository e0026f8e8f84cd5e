"""Per-step numbers of a training run (losses) read on the host without waiting for the device.

``float(loss)`` on a CUDA tensor makes the CPU wait until the GPU has computed it: a
host-device sync every step, which stops the CPU from queueing the next step's kernels ahead.
[`StepValues`][efficientdet_adapter.loop.step_values.StepValues] instead copies each step's
scalars to pinned host memory with a
non-blocking copy, records a CUDA event behind the copy, and hands the numbers out once their
event has completed (checked without waiting, ``event.query()``), or all at once when the
caller must know them
([`StepValues.flush`][efficientdet_adapter.loop.step_values.StepValues.flush]: at the end of an
epoch, before a checkpoint is
written). Entries come back in the order they were pushed, each with the ``meta`` given with it
(its epoch, step, learning rate...), so a late reader still knows which step a value belongs to.

Off CUDA there is no sync to avoid: the values are read at once (``float(tensor)``, as before),
and [`StepValues.push`][efficientdet_adapter.loop.step_values.StepValues.push] returns them
straight away.

Example:
    >>> values = StepValues()
    >>> values.push({"loss": torch.tensor(0.5)}, meta=1)   # on the CPU: ready at once
    [(1, {'loss': 0.5})]
    >>> values.flush()
    []
"""

from __future__ import annotations

import functools
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import torch

__all__ = ["StepValues"]


@dataclass
class _Pending:
    meta: Any
    keys: tuple[str, ...]
    host: torch.Tensor  # the values, on the host once ``event`` has completed
    event: Any


class StepValues:
    """A queue of per-step scalars, read on the host only when they are ready.

    Args:
        make_event: makes the event recorded behind each copy (an object with ``query()`` and
            ``synchronize()``). ``None``: ``torch.cuda.Event`` for CUDA tensors, and values of
            other devices are read at once. Tests pass a fake event to defer CPU values too.
        max_pending: at most this many steps wait unread; beyond, the oldest is waited for (it
            is long done unless the host runs that far ahead of the device).
    """

    def __init__(self, *, make_event: Callable[[], Any] | None = None,
                 max_pending: int = 16) -> None:
        self.make_event = make_event
        self.max_pending = max_pending
        self._pending: deque[_Pending] = deque()

    def __len__(self) -> int:
        """How many pushed entries are not handed out yet."""
        return len(self._pending)

    def push(self, tensors: Mapping[str, torch.Tensor | float], meta: Any = None
             ) -> list[tuple[Any, dict[str, float]]]:
        """Queue one step's scalars (0-d or one-element tensors, or numbers) with its ``meta``;
        returns the entries that are ready now, oldest first (this one too when read at once).
        """
        keys = tuple(tensors)
        values = [v.detach() if isinstance(v, torch.Tensor) else torch.tensor(float(v))
                  for v in tensors.values()]
        on_cuda = any(v.is_cuda for v in values)
        if not on_cuda and self.make_event is None:  # nothing to wait for: read now, as before
            now = (meta, {k: float(v) for k, v in zip(keys, values)})
            return [*self.flush(), now]
        device = next(v.device for v in values if v.is_cuda) if on_cuda else values[0].device
        # one copy per step: a common dtype holds every value exactly (bf16/fp16 -> fp32)
        dtype = functools.reduce(torch.promote_types, (v.dtype for v in values))
        stacked = torch.stack([v.to(device=device, dtype=dtype).reshape(()) for v in values])
        # non_blocking from CUDA: the copy lands in pinned host memory, after the kernels queued
        host = stacked.to("cpu", non_blocking=True)
        event = self.make_event() if self.make_event is not None else torch.cuda.Event()
        if on_cuda:
            event.record()
        self._pending.append(_Pending(meta, keys, host, event))
        ready = self.ready()
        while len(self._pending) > self.max_pending:
            ready.append(self._take(wait=True))
        return ready

    def ready(self) -> list[tuple[Any, dict[str, float]]]:
        """The entries whose copies have completed, oldest first; never waits. Events of one
        stream complete in order, so this stops at the first one still running."""
        out = []
        while self._pending and self._pending[0].event.query():
            out.append(self._take(wait=False))
        return out

    def flush(self) -> list[tuple[Any, dict[str, float]]]:
        """Every entry not handed out yet, oldest first, waiting for the device if need be."""
        return [self._take(wait=True) for _ in range(len(self._pending))]

    def clear(self) -> None:
        """Drop what is pending (a new fit starts)."""
        self._pending.clear()

    def _take(self, wait: bool) -> tuple[Any, dict[str, float]]:
        entry = self._pending.popleft()
        if wait:
            entry.event.synchronize()
        return entry.meta, {k: float(v) for k, v in zip(entry.keys, entry.host.tolist())}
