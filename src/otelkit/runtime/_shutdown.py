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
import time
from collections.abc import Callable, Mapping
from types import FrameType
from typing import Any

logger = logging.getLogger("otelkit")

Handler = Callable[[int, FrameType | None], Any] | int | signal.Handlers | None


def run_with_deadline(tasks: Mapping[str, Callable[[], object]], seconds: float) -> bool:
    """Run each task in its own daemon thread, all sharing one deadline of ``seconds``.

    One thread per task, so an exporter that stalls costs only its own signal: the others are
    still flushed. False if any task failed, returned False or was still running at the deadline.
    """
    outcomes: dict[str, bool] = {}

    def target(name: str, task: Callable[[], object]) -> None:
        try:
            outcomes[name] = task() is not False
        except Exception:
            logger.warning("otelkit: %s failed", name, exc_info=True)
            outcomes[name] = False

    workers = [
        threading.Thread(target=target, args=(name, task), name=f"otelkit-{name}", daemon=True)
        for name, task in tasks.items()
    ]
    for worker in workers:
        worker.start()
    deadline = time.monotonic() + seconds
    for worker in workers:
        worker.join(max(0.0, deadline - time.monotonic()))
    late = [name for name in tasks if name not in outcomes]
    if late:
        logger.warning(
            "otelkit: %s did not finish within %.1f s; giving up", ", ".join(late), seconds
        )
    return not late and all(outcomes.values())


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
