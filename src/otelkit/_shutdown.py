"""Bounded flush and shutdown at exit and on SIGTERM, chained to the application's own handler.

SIGTERM *flushes* and then hands over to whatever handler the application had installed (it may
still be serving its last requests); when there was none, the default action follows, so the
process still ends with the usual status. ``atexit`` shuts everything down. Both are bounded by
``OTELKIT_SHUTDOWN_TIMEOUT``: an exporter that hangs cannot hold the process.
"""

from __future__ import annotations

import atexit
import logging
import os
import signal
import threading
from collections.abc import Callable
from types import FrameType
from typing import Any

logger = logging.getLogger("otelkit")

Handler = Callable[[int, FrameType | None], Any] | int | signal.Handlers | None


def run_with_deadline(fn: Callable[[], object], seconds: float, what: str) -> bool:
    """Run ``fn`` in a daemon thread and wait at most ``seconds``; False if it did not finish."""
    outcome: list[bool] = []

    def target() -> None:
        try:
            fn()
            outcome.append(True)
        except Exception:
            logger.warning("otelkit: %s failed", what, exc_info=True)
            outcome.append(False)

    worker = threading.Thread(target=target, name=f"otelkit-{what}", daemon=True)
    worker.start()
    worker.join(seconds)
    if worker.is_alive():
        logger.warning("otelkit: %s did not finish within %.1f s; giving up", what, seconds)
        return False
    return outcome == [True]


class ExitHooks:
    """Registers atexit and SIGTERM hooks for one ``Telemetry`` and removes them again."""

    def __init__(self, flush: Callable[[], object], shutdown: Callable[[], object]) -> None:
        self._flush = flush
        self._shutdown = shutdown
        self._previous: Handler = None
        self._sigterm_installed = False

    def install(self) -> None:
        atexit.register(self._shutdown)
        if threading.current_thread() is not threading.main_thread():
            logger.debug("otelkit: not in the main thread; SIGTERM flush not installed")
            return
        previous = signal.getsignal(signal.SIGTERM)
        if previous is signal.SIG_IGN:
            return  # the application chose to ignore SIGTERM; atexit still flushes
        self._previous = previous
        signal.signal(signal.SIGTERM, self._on_sigterm)
        self._sigterm_installed = True

    def uninstall(self) -> None:
        atexit.unregister(self._shutdown)
        if not self._sigterm_installed:
            return
        self._sigterm_installed = False
        if (
            threading.current_thread() is threading.main_thread()
            and signal.getsignal(signal.SIGTERM) == self._on_sigterm
        ):
            signal.signal(signal.SIGTERM, self._previous or signal.SIG_DFL)

    def _on_sigterm(self, signum: int, frame: FrameType | None) -> None:
        previous = self._previous
        if callable(previous):
            self._flush()
            previous(signum, frame)
            return
        # No Python handler before us: the default action ends the process, so shut down first.
        self._shutdown()
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        os.kill(os.getpid(), signal.SIGTERM)
