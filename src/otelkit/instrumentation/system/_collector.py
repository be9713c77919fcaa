"""``SystemMetrics``: the observable instruments on one meter provider, read once per collection.

Every instrument is observable: nothing runs between collections. A collection reads psutil
once (a ``Sample``) and every callback of that collection reports from it: the first callback
of a collection takes the sample, the others reuse it. A callback knows a new collection has
begun when the sample it would reuse has already served it once, so this works whatever order
the SDK calls callbacks in. The CPU utilizations are derived here, from the CPU windows of
``_cpu``; what each instrument reports is in ``_system_observers`` and ``_process_observers``.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

from opentelemetry.semconv._incubating.metrics.process_metrics import (
    PROCESS_UNIX_FILE_DESCRIPTOR_COUNT,
)

from otelkit._errors import guarded
from otelkit._version import __version__
from otelkit.instrumentation.system import _process_observers, _system_observers
from otelkit.instrumentation.system._catalog import (
    COMPONENT,
    DETAIL,
    METRICS,
    MIN_WINDOW_S,
    SCOPE,
    SYSTEM_CPU_LOAD_AVERAGE_1M,
)
from otelkit.instrumentation.system._cpu import CpuWindow
from otelkit.instrumentation.system._sample import Snapshot

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

    from opentelemetry.metrics import CallbackOptions, Observation
    from opentelemetry.sdk.metrics import MeterProvider

    from otelkit.instrumentation.system._sample import Sample

__all__ = ["SystemMetrics"]


class SystemMetrics:
    """The observable instruments of ``METRICS`` on one meter provider.

    ``read`` takes one ``Sample``; it is called once per collection (the seam the tests use to
    count psutil reads). ``min_window`` is the shortest CPU measurement window in seconds;
    ``detail`` adds the instruments of ``OTELKIT_SYSTEM_METRICS_DETAIL`` (``DETAIL``).
    """

    def __init__(
        self,
        meter_provider: MeterProvider,
        read: Callable[[], Sample],
        *,
        min_window: float = MIN_WINDOW_S,
        load_average: bool = True,
        file_descriptors: bool = True,
        detail: bool = False,
    ) -> None:
        self._read = read
        self._lock = threading.Lock()
        self._snapshot: Snapshot | None = None
        self._taken = False
        self._served: set[int] = set()
        self._system_window = CpuWindow(min_window)
        self._process_window = CpuWindow(min_window)
        self._last_system_cpu: dict[str, float] = {}

        observers: dict[str, Callable[[Snapshot], list[Observation]]] = {
            **_system_observers.OBSERVERS,
            **_process_observers.OBSERVERS,
        }
        if not load_average:
            del observers[SYSTEM_CPU_LOAD_AVERAGE_1M]
        if not file_descriptors:
            del observers[PROCESS_UNIX_FILE_DESCRIPTOR_COUNT]
        if not detail:
            observers = {name: o for name, o in observers.items() if name not in DETAIL}

        meter = meter_provider.get_meter(SCOPE, __version__)
        create = {
            "observable_gauge": meter.create_observable_gauge,
            "observable_counter": meter.create_observable_counter,
            "observable_updowncounter": meter.create_observable_up_down_counter,
        }
        self.names: tuple[str, ...] = tuple(s.name for s in METRICS if s.name in observers)
        for index, spec in enumerate(s for s in METRICS if s.name in observers):
            create[spec.instrument](
                spec.name,
                callbacks=[self._callback(index, observers[spec.name])],
                unit=spec.unit,
                description=spec.description,
            )

    def _callback(
        self, index: int, observe: Callable[[Snapshot], list[Observation]]
    ) -> Callable[[CallbackOptions], Iterable[Observation]]:
        @guarded(COMPONENT, ())
        def callback(options: CallbackOptions) -> Iterable[Observation]:
            snapshot = self._snapshot_for(index)
            return () if snapshot is None else observe(snapshot)

        return callback

    def _snapshot_for(self, index: int) -> Snapshot | None:
        """The snapshot of the current collection: a new one when ``index`` was served already."""
        with self._lock:
            if not self._taken or index in self._served:
                self._served = set()
                self._snapshot = self._take()  # None if it failed: this collection reports nothing
                self._taken = True
            self._served.add(index)
            return self._snapshot

    @guarded(COMPONENT, None)
    def _take(self) -> Snapshot | None:
        sample = self._read()
        system_cpu: dict[str, float] = {}
        if sample.cpu_seconds is not None:
            spent, _ = self._system_window.advance(
                None, float("-inf"), sample.monotonic, sample.cpu_seconds
            )
            total = sum(spent.values())
            if total > 0:
                system_cpu = {mode: seconds / total for mode, seconds in spent.items()}
                self._last_system_cpu = system_cpu
            else:  # not one clock tick since the window's start: nothing new to say
                system_cpu = self._last_system_cpu
        process_cpu: dict[str, float] = {}
        process = sample.process
        if process is not None:
            # The process start on the monotonic clock: the origin of the first window.
            origin = sample.monotonic - (sample.wall - process.started)
            spent, elapsed = self._process_window.advance(
                process.pid, origin, sample.monotonic, process.cpu_seconds
            )
            if elapsed > 0:
                capacity = elapsed * process.cpus
                process_cpu = {m: min(s / capacity, 1.0) for m, s in spent.items()}
        return Snapshot(sample, system_cpu, process_cpu)
