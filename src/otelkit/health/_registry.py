"""Readiness checks: the process-wide registry, its status sources and its 1 s cache.

The registry holds the checks (``add_health_check``) and the status sources
(``register_status_source``); ``check()``/``acheck()`` answer with its last report while it is
younger than ``CACHE_SECONDS``, else start a run (``_runner``). Probes arriving while a run is
under way wait for that run instead of starting another, so a probe storm runs the checks at
most once per second.

Which event loop runs an async check: the caller's when health is read through the ASGI app;
from a thread (the Prometheus port, WSGI, a metric collection) the loop that last served health
through ASGI, while it runs; otherwise otelkit's own loop on a daemon thread (``_loop``).

The report types live in ``_report``, the check type in ``_check`` and the health metrics in
``_gauge``; the names importers use are re-exported here.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import os
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from otelkit._errors import ConfigError, guarded
from otelkit.health import _gauge
from otelkit.health._check import CheckFunction, HealthCheck, checked_name, checked_timeout
from otelkit.health._loop import LOOP, reference, running_loop
from otelkit.health._report import SEVERITY, CheckResult, HealthReport, Status
from otelkit.health._runner import CheckRunner

if TYPE_CHECKING:
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

CACHE_SECONDS = 1.0
"""How long a report answers every probe before the checks run again."""

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
        self._runner = CheckRunner()
        self._app_loop: Callable[[], asyncio.AbstractEventLoop | None] | None = None

    # -- registration -------------------------------------------------------------------------

    def add(
        self, name: str, fn: CheckFunction, *, critical: bool = True, timeout: float = 2.0
    ) -> HealthCheck:
        """Register (or replace, by name) a check; see ``add_health_check``."""
        checked_name(name)
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
        check = HealthCheck(name, fn, critical, checked_timeout(timeout, name))
        loop = running_loop()
        with self._lock:
            if name in self._checks:
                logger.debug("otelkit: health check %r replaced", name)
            self._checks[name] = check
            self._changed()
            if loop is not None:
                self._app_loop = reference(loop)
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
            self._runner.clear()
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
        self._app_loop = reference(loop)
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
            and app_loop is not running_loop()  # a sync caller inside that loop would wait on it
        ):
            return app_loop
        return LOOP.get()

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
            report = HealthReport(self._runner.run(checks, loop), _contributions(sources))
            _gauge.record_durations(report)
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
    if status is not None and status not in SEVERITY:
        raise ValueError(
            f"status source {name!r} returned {status!r}; accepted: 'healthy', 'degraded', "
            "'unhealthy' or None"
        )
    return status


HEALTH = HealthRegistry()
"""The process-wide registry."""

if hasattr(os, "register_at_fork"):

    def _after_fork() -> None:
        HEALTH.after_fork()
        LOOP.forget()

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


def register_metrics(provider: MeterProvider, registry: HealthRegistry = HEALTH) -> None:
    """Create the ``otelkit.health.status`` gauge of ``registry`` on ``provider`` (once per
    provider); see ``_gauge``."""
    _gauge.register(provider, registry)


def _register_on_active_pipeline() -> None:
    """Checks added after ``init_telemetry()`` need the gauge on the running configuration."""
    from otelkit import _active

    pipeline = getattr(_active.current(), "_pipeline", None)
    if pipeline is not None:
        register_metrics(pipeline.meter_provider)
