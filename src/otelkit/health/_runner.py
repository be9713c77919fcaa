"""The concurrent runner: every check started at once, each waited for until its own timeout.

A *run* starts every registered check at once: a sync check in a thread of its own (so a
hanging one blocks nothing but that thread), an async check as a task on an event loop. Each is
waited for until its own timeout, counted from the start of the run, so a run lasts at most as
long as the longest timeout.

A sync check whose previous call has not returned (it ignored its timeout) is not called again:
the next run waits for that call, so a hanging check holds one thread, not one per run.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import inspect
import threading
import time
from typing import TYPE_CHECKING, Any

from otelkit.health._report import CheckResult

if TYPE_CHECKING:
    from collections.abc import Awaitable

    from otelkit.health._check import HealthCheck

__all__ = ["TIMEOUT_ERROR", "CheckRunner"]

TIMEOUT_ERROR = "timeout"
"""The ``error`` of a check that did not finish within its timeout."""

Outcome = tuple[bool, "str | None"]


class _Invocation:
    """One call of a check, possibly outliving the run that started it (a hanging sync check)."""

    __slots__ = ("check", "done", "inner", "latency", "started")

    def __init__(self, check: HealthCheck) -> None:
        self.check = check
        self.done: concurrent.futures.Future[Outcome] = concurrent.futures.Future()
        self.done.set_running_or_notify_cancel()  # cannot be cancelled by one of its waiters
        self.inner: concurrent.futures.Future[Any] | None = None  # a coroutine's, to cancel
        self.started = time.perf_counter()
        self.latency = 0.0

    def finish(self, outcome: Outcome) -> None:
        self.latency = time.perf_counter() - self.started
        self.done.set_result(outcome)

    def cancel(self) -> None:
        inner = self.inner
        if inner is not None:
            inner.cancel()


def _outcome(value: object) -> Outcome:
    return (False, None) if value is False else (True, None)


def _failure(exc: BaseException) -> Outcome:
    return False, type(exc).__name__


def _call_sync(invocation: _Invocation, loop: asyncio.AbstractEventLoop) -> None:
    """The body of a sync check's thread."""
    outcome: Outcome = (False, None)
    try:
        value = invocation.check.fn()
        if inspect.isawaitable(value):  # e.g. ``lambda: client.ping()`` on an async client
            invocation.inner = asyncio.run_coroutine_threadsafe(_awaited(value), loop)
            value = invocation.inner.result()
        outcome = _outcome(value)
    except BaseException as exc:  # the check's own error is its result, whatever it is
        outcome = _failure(exc)
    finally:
        invocation.finish(outcome)


async def _awaited(awaitable: Awaitable[Any]) -> Any:
    return await awaitable


async def _call_async(invocation: _Invocation) -> None:
    outcome: Outcome = (False, None)
    try:
        outcome = _outcome(await invocation.check.fn())
    except asyncio.CancelledError:
        outcome = (False, TIMEOUT_ERROR)
        raise
    except Exception as exc:
        outcome = _failure(exc)
    finally:
        invocation.finish(outcome)


class CheckRunner:
    """Runs checks; remembers the calls still under way, so a hanging one is not called again."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._running: dict[str, _Invocation] = {}

    def clear(self) -> None:
        """Forget the calls under way (their threads finish unobserved)."""
        with self._lock:
            self._running.clear()

    def run(
        self, checks: tuple[HealthCheck, ...], loop: asyncio.AbstractEventLoop
    ) -> tuple[CheckResult, ...]:
        started = time.perf_counter()
        invocations = [self._invoke(check, loop) for check in checks]
        results: dict[str, CheckResult] = {}
        # Shortest timeout first, so that each timeout is noticed when it expires.
        for invocation in sorted(invocations, key=lambda i: i.check.timeout):
            check = invocation.check
            remaining = started + check.timeout - time.perf_counter()
            try:
                passed, error = invocation.done.result(timeout=max(0.0, remaining))
                latency = invocation.latency
            except concurrent.futures.TimeoutError:
                invocation.cancel()
                passed, error = False, TIMEOUT_ERROR
                latency = time.perf_counter() - invocation.started
            results[check.name] = CheckResult(
                check.name, check.critical, passed, round(latency * 1000, 2), error
            )
        return tuple(results[check.name] for check in checks)

    def _invoke(self, check: HealthCheck, loop: asyncio.AbstractEventLoop) -> _Invocation:
        with self._lock:
            previous = self._running.get(check.name)
            if (
                previous is not None
                and previous.check is check
                and not check.is_async  # a coroutine was cancelled at its timeout
                and not previous.done.done()
            ):
                return previous  # still hanging since an earlier run: wait for it, again
            invocation = self._running[check.name] = _Invocation(check)
        if check.is_async:
            try:
                invocation.inner = asyncio.run_coroutine_threadsafe(_call_async(invocation), loop)
            except RuntimeError as exc:  # the loop closed since it was chosen
                invocation.finish(_failure(exc))
        else:
            threading.Thread(
                target=_call_sync,
                args=(invocation, loop),
                name=f"otelkit-health-check {check.name}",
                daemon=True,
            ).start()
        return invocation
