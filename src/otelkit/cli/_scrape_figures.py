"""The figures ``otelkit scrape`` shows, from two readings of ``/metrics`` a few seconds apart.

RED per route (rate, error ratio, p50/p95/p99 from the increase of the duration histogram's
buckets), the same for database operations and Celery tasks, the connection pools, and the
system and process gauges. The series names come from the exporter's own translation of the
OpenTelemetry names, so they match what otelkit serves.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from otelkit.cli._exposition_text import Reading, Sample, histogram_quantile, increase
from otelkit.exporters.prometheus._exposition import metric_name

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = ["celery_tasks", "db_operations", "db_pools", "http_routes", "system"]

QUANTILES = (0.5, 0.95, 0.99)
# Every metric read here: its unit and Prometheus kind (for the series name, by the exporter's
# own translation) and the labels read. A test checks this against the metric catalog.
READS: dict[str, tuple[str, str, tuple[str, ...]]] = {
    "http.server.request.duration": (
        "s",
        "histogram",
        ("http_request_method", "http_route", "http_response_status_code"),
    ),
    "db.client.operation.duration": (
        "s",
        "histogram",
        ("db_system_name", "db_operation_name", "db_collection_name", "error_type"),
    ),
    "celery.task.duration": ("s", "histogram", ("celery_task_name", "celery_task_state")),
    "db.client.connection.count": (
        "{connection}",
        "gauge",
        ("db_client_connection_pool_name", "db_client_connection_state"),
    ),
    "db.client.connection.max": ("{connection}", "gauge", ("db_client_connection_pool_name",)),
    "db.client.connection.pending_requests": (
        "{request}",
        "gauge",
        ("db_client_connection_pool_name",),
    ),
    "db.client.connection.timeouts": ("{timeout}", "counter", ("db_client_connection_pool_name",)),
    "db.client.connection.wait_time": ("s", "histogram", ("db_client_connection_pool_name",)),
    "system.cpu.utilization": ("1", "gauge", ("cpu_mode",)),
    "system.memory.utilization": ("1", "gauge", ("system_memory_state",)),
    "system.cpu.load_average.1m": ("{thread}", "gauge", ()),
    "system.filesystem.utilization": (
        "1",
        "gauge",
        ("system_filesystem_state", "system_filesystem_mountpoint"),
    ),
    "system.network.io": ("By", "counter", ("network_io_direction",)),
    "process.cpu.utilization": ("1", "gauge", ()),
    "process.memory.usage": ("By", "gauge", ()),
    "process.thread.count": ("{thread}", "gauge", ()),
    "process.unix.file_descriptor.count": ("{file_descriptor}", "gauge", ()),
}


def family(name: str) -> str:
    """The series family ``/metrics`` serves ``name`` as (a counter's with ``_total``)."""
    unit, kind, _ = READS[name]
    return metric_name(name, unit, kind)


HTTP_DURATION = family("http.server.request.duration")
DB_DURATION = family("db.client.operation.duration")
CELERY_DURATION = family("celery.task.duration")
POOL_COUNT = family("db.client.connection.count")
POOL_MAX = family("db.client.connection.max")
POOL_PENDING = family("db.client.connection.pending_requests")
POOL_TIMEOUTS = family("db.client.connection.timeouts")
POOL_WAIT = family("db.client.connection.wait_time")
POOL_LABEL = "db_client_connection_pool_name"


def _red(
    before: Reading,
    after: Reading,
    family: str,
    key: Callable[[Sample], str | None],
    failed: Callable[[Sample], bool],
) -> list[dict[str, Any]]:
    """Rate, error ratio and quantiles per group of one duration histogram."""
    seconds = max(after.at - before.at, 1e-9)

    def errors(sample: Sample) -> str | None:
        return key(sample) if failed(sample) else None

    counts = increase(before.grouped(f"{family}_count", key), after.grouped(f"{family}_count", key))
    bad = increase(
        before.grouped(f"{family}_count", errors), after.grouped(f"{family}_count", errors)
    )
    totals = after.grouped(f"{family}_count", key)
    buckets = increase(
        before.grouped(f"{family}_bucket", key, per_le=True),
        after.grouped(f"{family}_bucket", key, per_le=True),
    )
    rows = []
    for (group,), count in sorted(counts.items()):
        bounds = [(float(le), n) for (g, le), n in buckets.items() if g == group]
        row: dict[str, Any] = {
            "name": group,
            "rate_per_s": round(count / seconds, 3),
            "error_ratio": round(bad.get((group,), 0.0) / count, 4) if count else None,
            "total": int(totals.get((group,), 0.0)),
        }
        for q in QUANTILES:
            value = histogram_quantile(q, bounds) if count else None
            row[f"p{round(q * 100)}_s"] = value
        rows.append(row)
    return rows


def http_routes(before: Reading, after: Reading) -> list[dict[str, Any]]:
    def route(sample: Sample) -> str:
        method = sample.label("http_request_method", "")
        return f"{method} {sample.label('http_route', '(no route)')}".strip()

    def failed(sample: Sample) -> bool:
        status = sample.label("http_response_status_code", "0")
        return status.isdigit() and int(status) >= 500

    return _red(before, after, HTTP_DURATION, route, failed)


def db_operations(before: Reading, after: Reading) -> list[dict[str, Any]]:
    def operation(sample: Sample) -> str:
        parts = (
            sample.label("db_system_name"),
            sample.label("db_operation_name", "(query)"),
            sample.label("db_collection_name"),
        )
        return " ".join(p for p in parts if p)

    return _red(before, after, DB_DURATION, operation, lambda s: bool(s.label("error_type")))


def celery_tasks(before: Reading, after: Reading) -> list[dict[str, Any]]:
    return _red(
        before,
        after,
        CELERY_DURATION,
        lambda s: s.label("celery_task_name", "(unnamed)"),
        lambda s: s.label("celery_task_state") == "FAILURE",
    )


def db_pools(before: Reading, after: Reading) -> list[dict[str, Any]]:
    seconds = max(after.at - before.at, 1e-9)

    def pool(sample: Sample) -> str:
        return sample.label(POOL_LABEL, "(pool)")

    def state(wanted: str) -> Callable[[Sample], str | None]:
        return lambda s: pool(s) if s.label("db_client_connection_state") == wanted else None

    used, idle = after.grouped(POOL_COUNT, state("used")), after.grouped(POOL_COUNT, state("idle"))
    limit, pending = after.grouped(POOL_MAX, pool), after.grouped(POOL_PENDING, pool)
    timeouts = increase(before.grouped(POOL_TIMEOUTS, pool), after.grouped(POOL_TIMEOUTS, pool))
    waits = increase(
        before.grouped(f"{POOL_WAIT}_bucket", pool, per_le=True),
        after.grouped(f"{POOL_WAIT}_bucket", pool, per_le=True),
    )
    names = sorted({k[0] for k in (*used, *idle, *limit, *pending)})
    rows = []
    for name in names:
        key = (name,)
        bounds = [(float(le), n) for (g, le), n in waits.items() if g == name]
        rows.append(
            {
                "pool": name,
                "used": _number(used.get(key)),
                "idle": _number(idle.get(key)),
                "max": _number(limit.get(key)),
                "pending": _number(pending.get(key)),
                "timeouts_per_s": round(timeouts.get(key, 0.0) / seconds, 3),
                "wait_p95_s": histogram_quantile(0.95, bounds),
            }
        )
    return rows


def _number(value: float | None) -> float | int | None:
    if value is None or not math.isfinite(value):
        return None
    return int(value) if value.is_integer() else round(value, 4)


def system(before: Reading, after: Reading) -> dict[str, Any]:
    """The host and process figures; a figure the endpoint does not serve is left out."""
    seconds = max(after.at - before.at, 1e-9)
    figures: dict[str, Any] = {}

    def total(name: str, where: Callable[[Sample], bool] = lambda s: True) -> float | None:
        values = [s.value for s in after.get(name) if where(s)]
        return sum(values) if values else None

    cpu = family("system.cpu.utilization")
    idle = total(cpu, lambda s: s.label("cpu_mode") == "idle")
    if idle is not None:
        figures["system_cpu_busy_ratio"] = round(1.0 - idle, 4)
    memory = family("system.memory.utilization")
    figures["system_memory_used_ratio"] = total(
        memory, lambda s: s.label("system_memory_state") == "used"
    )
    figures["load_average_1m"] = total(family("system.cpu.load_average.1m"))
    filesystem = family("system.filesystem.utilization")
    for sample in after.get(filesystem):
        if sample.label("system_filesystem_state") == "used":
            mount = sample.label("system_filesystem_mountpoint", "?")
            figures[f"filesystem_used_ratio {mount}"] = sample.value
    network = family("system.network.io")
    for direction in ("receive", "transmit"):

        def moved(s: Sample, d: str = direction) -> str | None:
            return "all" if s.label("network_io_direction") == d else None

        grown = increase(before.grouped(network, moved), after.grouped(network, moved))
        if grown:
            figures[f"network_{direction}_bytes_per_s"] = round(grown[("all",)] / seconds, 1)
    figures["process_cpu_ratio"] = total(family("process.cpu.utilization"))
    figures["process_memory_bytes"] = total(family("process.memory.usage"))
    figures["process_threads"] = total(family("process.thread.count"))
    fds = family("process.unix.file_descriptor.count")
    figures["process_open_file_descriptors"] = total(fds)
    return {
        k: _number(v) if isinstance(v, float) else v for k, v in figures.items() if v is not None
    }
