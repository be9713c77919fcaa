"""Which event loop runs an async check, when the caller is not a coroutine.

The caller's loop when health is read through the ASGI app; from a thread (the Prometheus port,
WSGI, a metric collection) the loop that last served health through ASGI, while it runs;
otherwise otelkit's own loop on a daemon thread (``LOOP``), started on first use and forgotten
in a forked child, whose copy of the thread does not run.
"""

from __future__ import annotations

import asyncio
import threading
import weakref
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = ["LOOP", "reference", "running_loop"]


class _LoopThread:
    """otelkit's own event loop, on a daemon thread started on first use."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None

    def get(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            if self._loop is None or self._loop.is_closed():
                loop = asyncio.new_event_loop()
                started = threading.Event()
                loop.call_soon(started.set)
                threading.Thread(
                    target=loop.run_forever, name="otelkit-health-loop", daemon=True
                ).start()
                started.wait(5)
                self._loop = loop
            return self._loop

    def forget(self) -> None:
        """After a fork: the thread did not survive, the next use starts another."""
        self._lock = threading.Lock()
        self._loop = None


LOOP = _LoopThread()


def running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


def reference(loop: asyncio.AbstractEventLoop) -> Callable[[], asyncio.AbstractEventLoop | None]:
    """A weak reference to ``loop`` where its class allows one, else a strong one."""
    try:
        return weakref.ref(loop)
    except TypeError:
        return lambda: loop
