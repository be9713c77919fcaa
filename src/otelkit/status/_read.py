"""One reading of the figures the status page shows, taken from one ``MetricsData``.

The data is what the Prometheus exposition renders (the same collection: the fast path merged
in, or under a pre-fork server the sum over every process's file), so the page and a scrape
agree. Only totals are kept here (cumulative counts and bucket counts per route, runs per task,
the gauges of the moment); rates and quantiles over the window are ``_figures``' job.
"""

from __future__ import annotations

import time
from array import array
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from opentelemetry.sdk.metrics.export import Gauge, Histogram, Sum
from opentelemetry.semconv._incubating.attributes.cpu_attributes import CPU_MODE
from opentelemetry.semconv._incubating.attributes.db_attributes import (
    DB_CLIENT_CONNECTION_POOL_NAME,
    DB_CLIENT_CONNECTION_STATE,
)
from opentelemetry.semconv._incubating.attributes.process_attributes import PROCESS_PID
from opentelemetry.semconv._incubating.attributes.system_attributes import SYSTEM_MEMORY_STATE
from opentelemetry.semconv._incubating.metrics.db_metrics import (
    DB_CLIENT_CONNECTION_COUNT,
    DB_CLIENT_CONNECTION_MAX,
    DB_CLIENT_CONNECTION_PENDING_REQUESTS,
    DB_CLIENT_CONNECTION_TIMEOUTS,
)
from opentelemetry.semconv._incubating.metrics.process_metrics import (
    PROCESS_CPU_UTILIZATION,
    PROCESS_MEMORY_USAGE,
    PROCESS_THREAD_COUNT,
    PROCESS_UNIX_FILE_DESCRIPTOR_COUNT,
    PROCESS_UPTIME,
)
from opentelemetry.semconv._incubating.metrics.system_metrics import (
    SYSTEM_CPU_UTILIZATION,
    SYSTEM_MEMORY_UTILIZATION,
)
from opentelemetry.semconv.attributes.error_attributes import ERROR_TYPE
from opentelemetry.semconv.attributes.http_attributes import HTTP_RESPONSE_STATUS_CODE, HTTP_ROUTE
from opentelemetry.semconv.metrics.http_metrics import HTTP_SERVER_REQUEST_DURATION

from otelkit.instrumentation.celery._recorder import (
    TASK_NAME,
    TASK_RUNS,
    TASK_STATE,
    WORKER_ACTIVE_TASKS,
)

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

    from opentelemetry.sdk.metrics.export import MetricsData

__all__ = ["ALL_ROUTES", "UNMATCHED", "Reading", "Totals", "merged", "read"]

ALL_ROUTES = "*"
"""The one route of a summary reading: every route added up."""
UNMATCHED = "(unmatched)"
"""The route of requests no route template matched (no ``http.route``)."""
SYSTEM_LOAD_1M = "system.cpu.load_average.1m"  # otelkit's name (not in the conventions)
_FAILED_STATES = frozenset({"FAILURE", "REJECTED"})


@dataclass(slots=True)
class Totals:
    """Cumulative totals of one route's (or one task's) duration histogram.

    Compact, as the window keeps up to 11 full readings of every route: slots, the bucket
    counts as an ``array`` of doubles and the boundaries shared between readings (61 readings
    of 100 routes took 5.2 MB with lists and a tuple per reading, 2.1 MB so; with summaries
    between the full readings, ``_window``, 0.43 MB).
    """

    bounds: tuple[float, ...] = ()
    buckets: array[float] = field(default_factory=lambda: array("d"))
    """Per-bucket counts (``len(bounds) + 1``), not cumulative."""
    count: float = 0.0
    errors: float = 0.0

    def add(self, bounds: tuple[float, ...], buckets: Any, count: float, error: bool) -> None:
        if not self.buckets and len(buckets) == len(bounds) + 1:
            self.bounds = _BOUNDS.setdefault(bounds, bounds) if len(_BOUNDS) < 64 else bounds
            self.buckets = array("d", buckets)
        elif bounds == self.bounds:  # other boundaries cannot be added up: counted only
            mine = self.buckets
            for index, value in enumerate(buckets):
                mine[index] += value
        self.count += count
        if error:
            self.errors += count


_BOUNDS: dict[tuple[float, ...], tuple[float, ...]] = {}
"""One tuple per distinct set of boundaries, shared by every reading."""


@dataclass
class Reading:
    """The totals at one moment (``taken``: ``time.time()``)."""

    taken: float
    routes: dict[str, Totals] = field(default_factory=dict)
    tasks: dict[str, Totals] = field(default_factory=dict)
    """Per task: ``count`` is runs, ``errors`` failed or rejected runs (no buckets)."""
    active_tasks: float | None = None
    pools: dict[str, dict[str, float]] = field(default_factory=dict)
    system: dict[str, float] = field(default_factory=dict)
    process: dict[str, float] = field(default_factory=dict)
    processes: int = 1
    full: bool = True
    """False for a summary: the whole service's HTTP totals only (``summary()``)."""
    _total: Totals | None = field(default=None, repr=False, compare=False)

    def total(self) -> Totals:
        """Every route added up (once: a kept reading is the baseline of many documents)."""
        if self._total is None:
            self._total = merged(self.routes.values())
        return self._total

    def summary(self) -> Reading:
        """This reading as the charts need it: the routes added up, nothing else."""
        return Reading(taken=self.taken, routes={ALL_ROUTES: self.total()}, full=False)


def merged(histograms: Iterable[Totals]) -> Totals:
    """The sum of several routes' totals."""
    total = Totals()
    for histogram in histograms:
        total.add(histogram.bounds, histogram.buckets, histogram.count, error=False)
        total.errors += histogram.errors
    return total


def _is_error(attributes: Mapping[str, Any]) -> bool:
    """A server error, as the RED rules count it: a 5xx response (or an exception)."""
    code = attributes.get(HTTP_RESPONSE_STATUS_CODE)
    if isinstance(code, int):
        return code >= 500
    return ERROR_TYPE in attributes


def read(data: MetricsData | None, now: float | None = None) -> Reading:
    """The totals in ``data`` (None: nothing collected yet, an empty reading)."""
    reading = Reading(taken=time.time() if now is None else now)
    pids: set[object] = set()
    for resource_metrics in data.resource_metrics if data is not None else ():
        for scope_metrics in resource_metrics.scope_metrics:
            for metric in scope_metrics.metrics:
                _one_metric(reading, metric.name, metric.data, pids)
    reading.processes = max(1, len(pids))
    return reading


def _one_metric(reading: Reading, name: str, data: Any, pids: set[object]) -> None:
    if name == HTTP_SERVER_REQUEST_DURATION and isinstance(data, Histogram):
        for point in data.data_points:
            attributes = point.attributes or {}
            route = str(attributes.get(HTTP_ROUTE, UNMATCHED))
            histogram = reading.routes.setdefault(route, Totals())
            bounds = tuple(float(b) for b in point.explicit_bounds)
            histogram.add(bounds, point.bucket_counts, point.count, _is_error(attributes))
        return
    if not isinstance(data, (Sum, Gauge)):
        return
    for number in data.data_points:
        attributes = number.attributes or {}
        if PROCESS_PID in attributes:
            pids.add(attributes[PROCESS_PID])
        _one_value(reading, name, attributes, float(number.value))


def _one_value(reading: Reading, name: str, attributes: Mapping[str, Any], value: float) -> None:
    if name == TASK_RUNS:
        task = reading.tasks.setdefault(str(attributes.get(TASK_NAME, "?")), Totals())
        task.count += value
        if attributes.get(TASK_STATE) in _FAILED_STATES:
            task.errors += value
    elif name == WORKER_ACTIVE_TASKS:
        reading.active_tasks = (reading.active_tasks or 0.0) + value
    elif name in _POOL_FIGURES:
        pool = reading.pools.setdefault(str(attributes.get(DB_CLIENT_CONNECTION_POOL_NAME)), {})
        key = _POOL_FIGURES[name]
        if name == DB_CLIENT_CONNECTION_COUNT:
            key = str(attributes.get(DB_CLIENT_CONNECTION_STATE, "used"))
        pool[key] = pool.get(key, 0.0) + value
    elif name == SYSTEM_CPU_UTILIZATION:  # per CPU mode: busy is everything but idle
        if attributes.get(CPU_MODE) != "idle":
            _add(reading.system, "cpu_utilization", value)
    elif name == SYSTEM_MEMORY_UTILIZATION:
        if attributes.get(SYSTEM_MEMORY_STATE) == "used":
            reading.system["memory_utilization"] = value
    elif name == SYSTEM_LOAD_1M:
        reading.system["load_average_1m"] = value
    elif name == PROCESS_UPTIME:  # the oldest process of a pre-fork server
        reading.process["uptime_seconds"] = max(reading.process.get("uptime_seconds", 0), value)
    elif name in _PROCESS_FIGURES:  # summed over the processes of a pre-fork server
        _add(reading.process, _PROCESS_FIGURES[name], value)


def _add(figures: dict[str, float], key: str, value: float) -> None:
    figures[key] = figures.get(key, 0.0) + value


_POOL_FIGURES = {
    DB_CLIENT_CONNECTION_COUNT: "used",  # split by state (idle, used) above
    DB_CLIENT_CONNECTION_MAX: "max",
    DB_CLIENT_CONNECTION_PENDING_REQUESTS: "pending",
    DB_CLIENT_CONNECTION_TIMEOUTS: "timeouts",
}
_PROCESS_FIGURES = {
    PROCESS_CPU_UTILIZATION: "cpu_utilization",
    PROCESS_MEMORY_USAGE: "memory_bytes",
    PROCESS_THREAD_COUNT: "threads",
    PROCESS_UNIX_FILE_DESCRIPTOR_COUNT: "open_file_descriptors",
}
