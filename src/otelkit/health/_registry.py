"""Readiness checks: the registry, the concurrent runner with per-check timeouts, the 1 s cache.

A *run* starts every registered check at once: a sync check in a thread of its own (so a
hanging one blocks nothing but that thread), an async check as a task on an event loop. Each is
waited for until its own timeout, counted from the start of the run, so a run lasts at most as
long as the longest timeout. Its report is cached for ``CACHE_SECONDS``; probes arriving while a
run is under way wait for that run instead of starting another, so a probe storm runs the
checks at most once per second.

Which event loop runs an async check: the caller's when health is read through the ASGI app;
from a thread (the Prometheus port, WSGI, a metric collection) the loop that last served health
through ASGI, while it runs; otherwise otelkit's own loop on a daemon thread.

A sync check whose previous call has not returned (it ignored its timeout) is not called again:
the next run waits for that call, so a hanging check holds one thread, not one per run.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import inspect
import logging
import math
import os
import re
import threading
import time
import weakref
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from otelkit._errors import ConfigError, guarded

if TYPE_CHECKING:
    from opentelemetry.metrics import CallbackOptions, Observation
    from opentelemetry.sdk.metrics import MeterProvider

__all__ = [
    "HEALTH",
    "CheckResult",
    "HealthCheck",
    "HealthRegistry",
    "HealthReport",
    "Status",
    "add_health_check",
    "register_metrics",
    "register_status_source",
]

logger = logging.getLogger("otelkit")

Status = Literal["healthy", "degraded", "unhealthy"]
_SEVERITY: dict[str, int] = {"healthy": 0, "degraded": 1, "unhealthy": 2}
_BY_SEVERITY: tuple[Status, ...] = ("healthy", "degraded", "unhealthy")

CACHE_SECONDS = 1.0
"""How long a report answers every probe before the checks run again."""
TIMEOUT_ERROR = "timeout"
"""The ``error`` of a check that did not finish within its timeout."""
METRIC_NAME = "otelkit.health.status"
CHECK_ATTRIBUTE = "otelkit.health.check"
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:/\-]{0,127}")

CheckFunction = Callable[[], Any]
"""A check: a sync or async callable without arguments. It passes when it returns (anything
but ``False``) and fails when it raises or returns ``False``."""
Outcome = tuple[bool, "str | None"]


@dataclass(frozen=True)
class HealthCheck:
    """One registered readiness check, as ``add_health_check()`` returns it."""

    name: str
    fn: CheckFunction = field(repr=False)
    critical: bool = True
    """A failing critical check makes readiness fail (503); a failing non-critical one only
    degrades the reported status."""
    timeout: float = 2.0
    """Seconds; a check still running after this counts as failed with ``error`` ``timeout``."""

    @property
    def is_async(self) -> bool:
        """Whether ``fn`` is a coroutine function (or a partial or callable object of one)."""
        fn = self.fn
        return inspect.iscoroutinefunction(fn) or inspect.iscoroutinefunction(
            getattr(fn, "__call__", None)  # noqa: B004 - a callable object's async __call__
        )


@dataclass(frozen=True)
class CheckResult:
    """The outcome of one check in one run."""

    name: str
    critical: bool
    passed: bool
    latency_ms: float
    error: str | None
    """The exception's class name, ``timeout``, or None (passed, or returned False)."""

    def as_dict(self) -> dict[str, Any]:
        return {
            "status": "pass" if self.passed else "fail",
            "critical": self.critical,
            "latency_ms": self.latency_ms,
            "error": self.error,
        }


@dataclass(frozen=True)
class HealthReport:
    """One run of every check, and what it means for readiness."""

    checks: tuple[CheckResult, ...] = ()
    sources: tuple[tuple[str, Status], ...] = ()
    """Contributions of the status sources (``register_status_source``), by name."""

    @property
    def ready(self) -> bool:
        """True when every critical check passed: the only thing that decides readiness."""
        return all(result.passed for result in self.checks if result.critical)

    @property
    def status(self) -> Status:
        """``unhealthy`` if a critical check failed, ``degraded`` if another one did, else
        ``healthy``; raised further by any status source that reports worse."""
        worst = 0
        for result in self.checks:
            if not result.passed:
                worst = max(worst, 2 if result.critical else 1)
        for _, status in self.sources:
            worst = max(worst, _SEVERITY[status])
        return _BY_SEVERITY[worst]

    @property
    def http_status(self) -> int:
        return 200 if self.ready else 503

    def as_dict(self, details: bool = True) -> dict[str, Any]:
        """The ``/readyz`` body; without ``details`` only the overall status and readiness."""
        body: dict[str, Any] = {"status": self.status, "ready": self.ready}
        if details:
            body["checks"] = {result.name: result.as_dict() for result in self.checks}
            if self.sources:
                body["sources"] = dict(self.sources)
        return body


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


_LOOP = _LoopThread()


def _running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


def _reference(loop: asyncio.AbstractEventLoop) -> Callable[[], asyncio.AbstractEventLoop | None]:
    """A weak reference to ``loop`` where its class allows one, else a strong one."""
    try:
        return weakref.ref(loop)
    except TypeError:
        return lambda: loop


StatusSource = Callable[[], "Status | None"]


class HealthRegistry:
    """The checks of a process and the cached result of their last run.

    ``otelkit.add_health_check()`` adds to the process-wide registry, which the health apps,
    the Prometheus port and the ``otelkit.health.status`` gauge all read.
    """

    def __init__(self, cache_seconds: float = CACHE_SECONDS) -> None:
        self.cache_seconds = cache_seconds
        self._reset()

    def _reset(self) -> None:
        self._lock = threading.Lock()
        self._checks: dict[str, HealthCheck] = {}
        self._sources: dict[str, StatusSource] = {}
        self._generation = 0
        self._cached: HealthReport | None = None
        self._cached_until = 0.0
        self._inflight: concurrent.futures.Future[HealthReport] | None = None
        self._running: dict[str, _Invocation] = {}
        self._app_loop: Callable[[], asyncio.AbstractEventLoop | None] | None = None

    # -- registration -------------------------------------------------------------------------

    def add(
        self, name: str, fn: CheckFunction, *, critical: bool = True, timeout: float = 2.0
    ) -> HealthCheck:
        """Register (or replace, by name) a check; see ``add_health_check``."""
        _checked_name(name)
        if not callable(fn):
            raise ConfigError(
                f"add_health_check({name!r}, fn={fn!r}): the check must be a callable taking no "
                "arguments (a function or an async function)."
            )
        if not isinstance(critical, bool):
            raise ConfigError(
                f"add_health_check({name!r}, critical={critical!r}) is not valid. "
                "Accepted: True or False."
            )
        check = HealthCheck(name, fn, critical, _checked_timeout(timeout, name))
        loop = _running_loop()
        with self._lock:
            if name in self._checks:
                logger.debug("otelkit: health check %r replaced", name)
            self._checks[name] = check
            self._changed()
            if loop is not None:
                self._app_loop = _reference(loop)
        return check

    def remove(self, name: str) -> bool:
        """Unregister the check ``name``; False if there was none."""
        with self._lock:
            found = self._checks.pop(name, None) is not None
            self._changed()
        return found

    def add_status_source(self, name: str, source: StatusSource) -> Callable[[], None]:
        """Let ``source()`` raise the overall status (see ``register_status_source``)."""
        if not callable(source):
            raise ConfigError(f"register_status_source({name!r}): the source must be callable.")
        with self._lock:
            self._sources[name] = source
            self._changed()

        def remove() -> None:
            with self._lock:
                if self._sources.get(name) is source:
                    del self._sources[name]
                    self._changed()

        return remove

    @property
    def checks(self) -> tuple[HealthCheck, ...]:
        """The registered checks, in registration order."""
        with self._lock:
            return tuple(self._checks.values())

    def clear(self) -> None:
        """Forget every check, status source and cached result (tests start from here)."""
        with self._lock:
            self._checks.clear()
            self._sources.clear()
            self._running.clear()
            self._changed()

    def _changed(self) -> None:  # under the lock
        self._generation += 1
        self._cached = None

    def after_fork(self) -> None:
        """In a forked child: no run is under way and no thread of the parent exists."""
        checks, sources = self._checks, self._sources
        self._reset()
        self._checks, self._sources = checks, sources

    # -- running ------------------------------------------------------------------------------

    def check(self) -> HealthReport:
        """The current report: cached, shared with a run under way, or from a new run here."""
        claimed = self._claim()
        if isinstance(claimed, HealthReport):
            return claimed
        future, runner = claimed
        if runner:
            self._run_into(future, self._loop_for_thread())
        return future.result()

    async def acheck(self) -> HealthReport:
        """``check()`` for a coroutine: never blocks the event loop, which runs the async checks."""
        loop = asyncio.get_running_loop()
        self._app_loop = _reference(loop)
        claimed = self._claim()
        if isinstance(claimed, HealthReport):
            return claimed
        future, runner = claimed
        if runner:
            threading.Thread(
                target=self._run_into, args=(future, loop), name="otelkit-health", daemon=True
            ).start()
        return await asyncio.wrap_future(future)

    def _claim(self) -> HealthReport | tuple[concurrent.futures.Future[HealthReport], bool]:
        """The cached report, or the run to wait for and whether the caller must run it."""
        with self._lock:
            if self._cached is not None and time.monotonic() < self._cached_until:
                return self._cached
            if self._inflight is not None:
                return self._inflight, False
            future: concurrent.futures.Future[HealthReport] = concurrent.futures.Future()
            future.set_running_or_notify_cancel()
            self._inflight = future
            return future, True

    def _loop_for_thread(self) -> asyncio.AbstractEventLoop:
        app_loop = self._app_loop() if self._app_loop is not None else None
        if (
            app_loop is not None
            and app_loop.is_running()
            and not app_loop.is_closed()
            and app_loop is not _running_loop()  # a sync caller inside that loop would wait on it
        ):
            return app_loop
        return _LOOP.get()

    def _run_into(
        self,
        future: concurrent.futures.Future[HealthReport],
        loop: asyncio.AbstractEventLoop,
    ) -> None:
        with self._lock:
            generation = self._generation
            checks = tuple(self._checks.values())
            sources = tuple(self._sources.items())
        try:
            report = HealthReport(self._run(checks, loop), _contributions(sources))
        except BaseException as exc:
            with self._lock:
                self._inflight = None
            future.set_exception(exc)
            return
        with self._lock:
            self._inflight = None
            if generation == self._generation:
                self._cached = report
                self._cached_until = time.monotonic() + self.cache_seconds
        future.set_result(report)

    def _run(
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


def _contributions(
    sources: tuple[tuple[str, StatusSource], ...],
) -> tuple[tuple[str, Status], ...]:
    found = []
    for name, source in sources:
        status = _source_status(name, source)
        if status is not None:
            found.append((name, status))
    return tuple(found)


@guarded("health.status_source")
def _source_status(name: str, source: StatusSource) -> Status | None:
    status = source()
    if status is not None and status not in _SEVERITY:
        raise ValueError(
            f"status source {name!r} returned {status!r}; accepted: 'healthy', 'degraded', "
            "'unhealthy' or None"
        )
    return status


def _checked_name(name: object) -> str:
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise ConfigError(
            f"add_health_check({name!r}) is not a valid check name. Accepted: 1 to 128 letters, "
            "digits, '_', '.', ':', '/' or '-', starting with a letter or digit."
        )
    return name


def _checked_timeout(timeout: object, name: str) -> float:
    if (
        isinstance(timeout, bool)
        or not isinstance(timeout, (int, float))
        or not math.isfinite(timeout)
        or timeout <= 0
    ):
        raise ConfigError(
            f"add_health_check({name!r}, timeout={timeout!r}) is not valid. "
            "Accepted: a positive number of seconds, such as 2 or 0.5."
        )
    return float(timeout)


HEALTH = HealthRegistry()
"""The process-wide registry."""

if hasattr(os, "register_at_fork"):

    def _after_fork() -> None:
        HEALTH.after_fork()
        _LOOP.forget()

    os.register_at_fork(after_in_child=_after_fork)


def add_health_check(
    name: str, fn: CheckFunction, critical: bool = True, timeout: float = 2.0
) -> HealthCheck:
    """Register a readiness check: ``fn`` takes no arguments, may be sync or async, passes when
    it returns and fails when it raises (or returns ``False``).

    ``/readyz`` answers 503 while a ``critical`` check fails; a failing non-critical check only
    turns the status to ``degraded``. A check running longer than ``timeout`` seconds fails with
    ``error: "timeout"``. Registering a name again replaces that check. Raises ``ConfigError``
    for a bad name, callable or timeout.
    """
    check = HEALTH.add(name, fn, critical=critical, timeout=timeout)
    _register_on_active_pipeline()
    return check


def register_status_source(name: str, source: StatusSource) -> Callable[[], None]:
    """A contribution to the overall status from outside the checks (the alerting engine).

    ``source()`` runs with every run of the checks and returns ``"healthy"``, ``"degraded"``,
    ``"unhealthy"`` or ``None`` (no opinion); the reported status is the worst of the checks'
    and the sources'. Sources never change readiness (the HTTP status), which only critical
    checks decide. The contribution appears under ``sources`` in the ``/readyz`` body. Returns
    a function that unregisters the source. A source that raises is logged once and ignored.
    """
    return HEALTH.add_status_source(name, source)


# -- the otelkit.health.status gauge ------------------------------------------------------------

_providers: weakref.WeakSet[MeterProvider] = weakref.WeakSet()
_providers_lock = threading.Lock()


def register_metrics(provider: MeterProvider, registry: HealthRegistry = HEALTH) -> None:
    """Create the ``otelkit.health.status`` gauge on ``provider`` (once per provider).

    At each collection it reports 1 (passing) or 0 (failing) per check, with the attribute
    ``otelkit.health.check``; the checks run then, unless a report younger than a second is
    cached.
    """
    with _providers_lock:
        if provider in _providers:
            return
        _providers.add(provider)
    from otelkit._version import __version__

    meter = provider.get_meter("otelkit.health", __version__)
    meter.create_observable_gauge(
        METRIC_NAME,
        callbacks=[_observer(registry)],
        unit="{check}",
        description="Whether each readiness check passes (1) or fails or times out (0).",
    )


def _observer(registry: HealthRegistry) -> Callable[[CallbackOptions], list[Observation]]:
    from opentelemetry.metrics import Observation

    @guarded("health.metric", default=[])
    def observe(options: CallbackOptions) -> list[Observation]:
        if not registry.checks:
            return []
        return [
            Observation(1 if result.passed else 0, {CHECK_ATTRIBUTE: result.name})
            for result in registry.check().checks
        ]

    return observe


def _register_on_active_pipeline() -> None:
    """Checks added after ``init_telemetry()`` need the gauge on the running configuration."""
    from otelkit import _active

    pipeline = getattr(_active.current(), "_pipeline", None)
    if pipeline is not None:
        register_metrics(pipeline.meter_provider)
