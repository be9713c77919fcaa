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


class Lane:
    """One signal's flushes: at most one thread in flight, however often flushes time out.

    A flush that times out leaves its thread running (an exporter stuck on a black-holed
    collector cannot be interrupted); the next flush of the signal waits for that thread within
    its own deadline instead of starting a second one behind the SDK's export lock.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._worker: threading.Thread | None = None

    def start(self, worker: threading.Thread, deadline: float) -> bool:
        """Start ``worker`` once the lane's previous thread has ended; False, and ``worker``
        never started, if that thread is still running at ``deadline`` (``time.monotonic()``)."""
        while True:
            with self._lock:
                running = self._worker
                if running is None or not running.is_alive():
                    self._worker = worker
                    worker.start()
                    return True
            running.join(max(0.0, deadline - time.monotonic()))
            if running.is_alive():
                return False


def run_with_deadline(
    tasks: Mapping[str, Callable[[], object]],
    seconds: float,
    lanes: Mapping[str, Lane] | None = None,
) -> bool:
    """Run each task in its own daemon thread, all sharing one deadline of ``seconds``.

    One thread per task, so an exporter that stalls costs only its own signal: the others are
    still flushed. A task with a ``lanes`` entry starts only once that lane's previous task has
    ended (``Lane``). False if any task failed, returned False, could not start or was still
    running at the deadline.
    """
    outcomes: dict[str, bool] = {}
    lanes = lanes or {}

    def target(name: str, task: Callable[[], object]) -> None:
        try:
            outcomes[name] = task() is not False
        except Exception:
            logger.warning("otelkit: %s failed", name, exc_info=True)
            outcomes[name] = False

    workers = {
        name: threading.Thread(
            target=target, args=(name, task), name=f"otelkit-{name}", daemon=True
        )
        for name, task in tasks.items()
    }
    now = time.monotonic()
    deadline = now + seconds
    started: list[threading.Thread] = []
    busy: list[str] = []
    for name, worker in workers.items():  # the free lanes first: a busy one delays no other
        lane = lanes.get(name)
        if lane is None:
            worker.start()
        elif not lane.start(worker, now):
            busy.append(name)
            continue
        started.append(worker)
    stuck = [name for name in busy if not lanes[name].start(workers[name], deadline)]
    started.extend(workers[name] for name in busy if name not in stuck)
    for worker in started:
        worker.join(max(0.0, deadline - time.monotonic()))
    late = [name for name in tasks if name not in outcomes and name not in stuck]
    if late:
        logger.warning(
            "otelkit: %s did not finish within %.1f s; giving up", ", ".join(late), seconds
        )
    if stuck:
        logger.warning(
            "otelkit: %s not started: the previous one was still running after %.1f s",
            ", ".join(stuck),
            seconds,
        )
    return not late and not stuck and all(outcomes.values())


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
