"""Database client row: query rate, duration and errors, and the connection pools."""

from __future__ import annotations

from typing import TYPE_CHECKING

from opentelemetry.semconv._incubating.attributes.db_attributes import (
    DB_CLIENT_CONNECTION_POOL_NAME,
    DB_CLIENT_CONNECTION_STATE,
)
from opentelemetry.semconv.attributes.db_attributes import DB_COLLECTION_NAME, DB_OPERATION_NAME
from opentelemetry.semconv.attributes.error_attributes import ERROR_TYPE

from otelkit.ops.dashboard._model import Panel, Row, Target
from otelkit.ops.dashboard._promql import by, label, quantile, ratio, selector, sum_rate

if TYPE_CHECKING:
    from otelkit.ops.dashboard._names import Names

OPERATION = "db.client.operation.duration"
CONNECTIONS = "db.client.connection.count"
MAX = "db.client.connection.max"
PENDING = "db.client.connection.pending_requests"
TIMEOUTS = "db.client.connection.timeouts"
WAIT = "db.client.connection.wait_time"

OP, TABLE, ERROR = label(DB_OPERATION_NAME), label(DB_COLLECTION_NAME), label(ERROR_TYPE)
POOL, STATE = label(DB_CLIENT_CONNECTION_POOL_NAME), label(DB_CLIENT_CONNECTION_STATE)
POOL_LEGEND = f"{{{{{POOL}}}}}"


def rows(names: Names) -> tuple[Row, ...]:
    panels = [*_queries(names), *_pool(names)]
    return (Row("Database", tuple(panels)),) if panels else ()


def _queries(names: Names) -> list[Panel]:
    if OPERATION not in names:
        return []
    count = names.series(OPERATION, "_count")
    buckets = names.series(OPERATION, "_bucket")
    legend = f"{{{{{OP}}}}} {{{{{TABLE}}}}}"
    return [
        Panel(
            "Queries per second",
            "timeseries",
            (Target(sum_rate(selector(count), (OP, TABLE)), legend),),
            unit="ops",
        ),
        Panel(
            "Query duration p95",
            "timeseries",
            (Target(quantile(0.95, selector(buckets), (OP, TABLE)), legend),),
            unit="s",
        ),
        Panel(
            "Query error ratio",
            "timeseries",
            (
                Target(
                    ratio(
                        sum_rate(selector(count, f'{ERROR}!=""'), (OP,)),
                        sum_rate(selector(count), (OP,)),
                    ),
                    f"{{{{{OP}}}}}",
                ),
            ),
            unit="percentunit",
            description="Failed operations among all, per operation (0 while none fail).",
            max_value=1,
        ),
    ]


def _pool(names: Names) -> list[Panel]:
    panels: list[Panel] = []
    if CONNECTIONS in names:
        targets = [
            Target(
                by((POOL, STATE), selector(names.series(CONNECTIONS))),
                f"{{{{{POOL}}}}} {{{{{STATE}}}}}",
            )
        ]
        if MAX in names:
            targets.append(Target(by((POOL,), selector(names.series(MAX))), "max"))
        panels.append(
            Panel(
                "Pool connections (used, idle, max)",
                "timeseries",
                tuple(targets),
                description="Summed over every worker's and replica's own pool.",
            )
        )
    if CONNECTIONS in names and MAX in names:
        used = by((POOL,), selector(names.series(CONNECTIONS), f'{STATE}="used"'))
        panels.append(
            Panel(
                "Pool saturation (used / max)",
                "timeseries",
                (Target(f"{used} / {by((POOL,), selector(names.series(MAX)))}", POOL_LEGEND),),
                unit="percentunit",
                max_value=1,
            )
        )
    if PENDING in names:
        panels.append(
            Panel(
                "Requests waiting for a connection",
                "timeseries",
                (Target(by((POOL,), selector(names.series(PENDING))), POOL_LEGEND),),
            )
        )
    if TIMEOUTS in names:
        panels.append(
            Panel(
                "Connection timeouts per second",
                "timeseries",
                (Target(sum_rate(selector(names.series(TIMEOUTS)), (POOL,)), POOL_LEGEND),),
                unit="ops",
            )
        )
    if WAIT in names:
        panels.append(
            Panel(
                "Connection wait p95",
                "timeseries",
                (
                    Target(
                        quantile(0.95, selector(names.series(WAIT, "_bucket")), (POOL,)),
                        POOL_LEGEND,
                    ),
                ),
                unit="s",
            )
        )
    return panels
