"""The per-configuration recorder every instrumentation derives from.

An instrumentation is installed once (a middleware, signal receivers, engine listeners), often
before ``init_telemetry()``, but it records into what belongs to one configuration: transient
fast instruments (``metrics._fastpath``: forgotten when that configuration ends, their buckets
may come from its settings) and a ``SpanFactory`` on its tracer provider (None without tracing).
A ``Recorder`` holds them for one configuration, whose ``Telemetry`` handle is its ``owner``. It
is built on the first event after a configuration starts and kept while that configuration is
the running one: an instrumentation installed before ``init_telemetry()`` starts recording as
soon as there is a configuration, records nothing while there is none, and a re-init brings
fresh instruments.

Finding the recorder happens on every request, task and query, so the usual case is one read of
the running configuration and an identity check against the cached recorder's owner; building
one is rare. Two ways to keep it:

- ``Recorder.current(cached, ...)`` leaves the cache to the caller (each HTTP middleware keeps
  its own, since its ``spans`` option is its own). Two threads racing there build two
  equivalent recorders (the registry hands both the same instruments) and one is dropped.
- ``CurrentRecorder`` is one recorder for the whole process, built under a lock, with a hook
  for instrumentations whose change of recorder has consequences (SQLAlchemy rebinds its
  engines' pool counts).

That lock is a ``ForkLock``: a forked child (a Celery pool process, which clears the recorder
and builds its own on its first task) must not inherit it held by a thread of the parent that
does not exist in the child, so every ``ForkLock`` gets a new lock in the child.
"""

from __future__ import annotations

import os
import threading
import weakref
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from otelkit import _active
from otelkit.metrics._fastpath import REGISTRY
from otelkit.tracing._spans import SpanFactory

if TYPE_CHECKING:
    from collections.abc import Callable
    from types import TracebackType

    from opentelemetry.sdk.util.instrumentation import InstrumentationScope

    from otelkit.metrics._fastpath import FastHistogram, FastSum
    from otelkit.metrics._spec import MetricSpec
    from otelkit.runtime._telemetry import Telemetry

__all__ = ["CurrentRecorder", "ForkLock", "Recorder"]

R = TypeVar("R", bound="Recorder")


class ForkLock:
    """A lock (re-entrant if ``reentrant``) that a forked child gets anew.

    ``with lock:`` as with a ``threading`` lock. At a fork, a thread of the parent may hold it;
    that thread does not exist in the child, so the child's first ``with lock:`` would wait
    forever. After a fork every ``ForkLock`` of the process therefore holds a new lock in the
    child (``os.register_at_fork``). The object itself stays the same, so a module that imported
    it by name keeps a working lock. As with the other locks replaced at a fork, the thread that
    forks must not hold it itself.
    """

    __slots__ = ("__weakref__", "_lock", "_reentrant")

    def __init__(self, *, reentrant: bool = False) -> None:
        self._reentrant = reentrant
        self._lock = self._new()
        _FORK_LOCKS.add(self)

    def _new(self) -> threading.Lock | threading.RLock:
        return threading.RLock() if self._reentrant else threading.Lock()

    def renew(self) -> None:
        """A new, free lock in place of the current one (in a forked child only)."""
        self._lock = self._new()

    def acquire(self, blocking: bool = True, timeout: float = -1) -> bool:
        return self._lock.acquire(blocking, timeout)

    def release(self) -> None:
        self._lock.release()

    def __enter__(self) -> bool:
        return self._lock.acquire()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._lock.release()


_FORK_LOCKS: weakref.WeakSet[ForkLock] = weakref.WeakSet()


def _renew_fork_locks() -> None:
    for lock in list(_FORK_LOCKS):
        lock.renew()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_renew_fork_locks)


class Recorder:
    """What one instrumentation records into under one configuration.

    ``owner``: the configuration's ``Telemetry`` handle. ``spans``: the span factory, None when
    the configuration does not trace or ``spans`` is False. Subclasses create their instruments
    with ``histogram()`` and ``sum()``, all under this recorder's instrumentation ``scope``.
    """

    def __init__(
        self, telemetry: Telemetry, scope: InstrumentationScope, *, spans: bool = True
    ) -> None:
        self.owner = telemetry
        self.scope = scope
        pipeline = telemetry._pipeline
        self.spans: SpanFactory | None = (
            SpanFactory(pipeline.tracer_provider, scope)
            if spans and telemetry.tracing and pipeline is not None
            else None
        )

    def histogram(
        self, name: str, *, unit: str, description: str, boundaries: tuple[float, ...]
    ) -> FastHistogram:
        """The transient fast histogram ``name`` of this configuration."""
        return REGISTRY.histogram(
            name,
            unit=unit,
            description=description,
            scope=self.scope,
            boundaries=boundaries,
            transient=True,
        )

    def sum(self, name: str, *, unit: str, description: str, monotonic: bool) -> FastSum:
        """The transient fast sum ``name`` of this configuration (a counter if ``monotonic``,
        else an up-down counter)."""
        return REGISTRY.sum(
            name,
            unit=unit,
            description=description,
            scope=self.scope,
            monotonic=monotonic,
            transient=True,
        )

    def histogram_of(self, spec: MetricSpec, boundaries: tuple[float, ...]) -> FastHistogram:
        """The histogram of a catalog declaration (its name, unit and description)."""
        return self.histogram(
            spec.name, unit=spec.unit, description=spec.description, boundaries=boundaries
        )

    def sum_of(self, spec: MetricSpec) -> FastSum:
        """The counter or up-down counter of a catalog declaration."""
        return self.sum(
            spec.name, unit=spec.unit, description=spec.description, monotonic=spec.monotonic
        )

    @classmethod
    def current(cls: type[R], cached: R | None, *args: Any) -> R | None:
        """The recorder of the running configuration, None when none is running (or it is
        disabled): ``cached`` while its owner is still the running configuration, else a new
        one, ``cls(telemetry, *args)``, which the caller keeps for the next call."""
        active = _active.current()
        if cached is not None and cached.owner is active:
            return cached
        if active is None or not active.enabled:
            return None
        return cls(active, *args)


class CurrentRecorder(Generic[R]):
    """The process-wide recorder of one instrumentation: that of the running configuration.

    ``build(telemetry)`` makes a recorder; it runs under ``lock`` (a new ``ForkLock`` unless
    given; give a re-entrant one the instrumentation holds itself if ``renewed`` takes it too),
    at most once per configuration. It is a ``ForkLock`` so that a forked child, which may
    ``clear()`` the recorder and build its own, never waits for a lock a parent thread held.
    ``renewed(recorder, caller)``, if given, runs under the same lock right after a new recorder
    replaced the old one, with what the caller of ``get()`` passed.
    """

    __slots__ = ("_build", "_lock", "_renewed", "recorder")

    def __init__(
        self,
        build: Callable[[Telemetry], R],
        *,
        lock: ForkLock | None = None,
        renewed: Callable[[R, Any], None] | None = None,
    ) -> None:
        self._build = build
        self._lock = ForkLock() if lock is None else lock
        self._renewed = renewed
        self.recorder: R | None = None
        """The last recorder built, whichever configuration it belongs to; None before the
        first and after ``clear()``."""

    def get(self, caller: object = None) -> R | None:
        """The recorder of the running configuration (built on first use), or None when no
        configuration is running or it is disabled."""
        active = _active.current()
        recorder = self.recorder
        if recorder is not None and recorder.owner is active:
            return recorder
        if active is None or not active.enabled:
            return None
        return self._renew(active, caller)

    def _renew(self, active: Telemetry, caller: object) -> R:
        with self._lock:
            recorder = self.recorder
            if recorder is None or recorder.owner is not active:
                recorder = self._build(active)
                self.recorder = recorder
                if self._renewed is not None:
                    self._renewed(recorder, caller)
            return recorder

    def clear(self) -> None:
        """Forget the recorder: the next ``get()`` builds one (a new pool process)."""
        self.recorder = None
