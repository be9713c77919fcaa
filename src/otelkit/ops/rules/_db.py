"""Database rules: pool saturation, waiting and timeouts, query latency and errors.

Pool gauges are summed per service and pool over workers and replicas (each worker has its
own pool; the sum of used over the sum of max is the service's saturation). Query latency and
errors come from ``db.client.operation.duration``, per service and database.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from otelkit.ops.rules._context import RULES_PREFIX, by
from otelkit.ops.rules._model import Alert, Group, Record, Runbook, seconds

if TYPE_CHECKING:
    from otelkit.ops.rules._context import Context

__all__ = ["db_groups"]

COUNT = "db.client.connection.count"
MAX = "db.client.connection.max"
PENDING = "db.client.connection.pending_requests"
TIMEOUTS = "db.client.connection.timeouts"
OPERATION = "db.client.operation.duration"


def db_groups(ctx: Context) -> list[Group]:
    t, w = ctx.thresholds, ctx.window
    pool, state = (
        ctx.label(COUNT, "db.client.connection.pool.name"),
        ctx.label(COUNT, "db.client.connection.state"),
    )
    namespace, error = ctx.label(OPERATION, "db.namespace"), ctx.label(OPERATION, "error.type")
    usage = "job_pool:db_client_connection_usage:ratio"
    pending = "job_pool:db_client_connection_pending_requests:sum"
    timeouts = f"job_pool:db_client_connection_timeouts:rate{w}"
    ops = f"job_db:db_client_operations:rate{w}"
    errors = f"job_db:db_client_operation_errors:rate{w}"
    error_ratio = f"job_db:db_client_operation_error_ratio:ratio_rate{w}"
    buckets = f"job_db:db_client_operation_duration_seconds_bucket:rate{w}"
    p95 = f"job_db:db_client_operation_duration_seconds:p95_{w}"
    op_count = ctx.series(OPERATION, "_count")
    used = ctx.selector(f'{state}="used"')
    failed = ctx.selector(f'{error}!=""')
    records = (
        Record(
            usage,
            f"sum {by(pool)} ({ctx.series(COUNT)}{used})"
            f" / sum {by(pool)} ({ctx.series(MAX)}{ctx.selector()})",
        ),
        Record(pending, f"sum {by(pool)} ({ctx.series(PENDING)}{ctx.selector()})"),
        Record(timeouts, f"sum {by(pool)} (rate({ctx.series(TIMEOUTS)}{ctx.selector()}[{w}]))"),
        Record(ops, f"sum {by(namespace)} (rate({op_count}{ctx.selector()}[{w}]))"),
        Record(
            errors,
            f"sum {by(namespace)} (rate({op_count}{failed}[{w}])) or 0 * {ops}",
        ),
        Record(error_ratio, f"{errors} / {ops}"),
        Record(
            buckets,
            f"sum {by(namespace, 'le')} "
            f"(rate({ctx.series(OPERATION, '_bucket')}{ctx.selector()}[{w}]))",
        ),
        Record(p95, f"histogram_quantile(0.95, {buckets})"),
    )
    pool_queries = (usage, pending, timeouts)
    pool_causes = (
        "slow queries holding connections longer (see `DatabaseSlowQueries`)",
        "connections leaked: a session not closed, a transaction left open",
        "more concurrent requests than `pool_size + max_overflow` across the workers",
    )
    alerts = (
        Alert(
            "DatabasePoolSaturated",
            f"{usage} > {t.db_pool:g}",
            300.0,
            "warning",
            "{{ $labels.job }}: pool {{ $labels." + pool + " }} {{ $value | humanizePercentage }}"
            " used",
            f"{{{{ $value | humanizePercentage }}}} of the connections of pool "
            f"{{{{ $labels.{pool} }}}} are in use (threshold {t.db_pool:.0%}).",
            Runbook(
                "Nearly every connection the pools may open is in use: the next requests "
                "will wait for one.",
                pool_queries,
                pool_causes,
            ),
        ),
        Alert(
            "DatabasePoolPending",
            f"{pending} > 0",
            300.0,
            "warning",
            "{{ $labels.job }}: requests wait for a connection of {{ $labels." + pool + " }}",
            f"{{{{ $value }}}} requests are waiting for a connection of pool "
            f"{{{{ $labels.{pool} }}}}, continuously for 5 minutes.",
            Runbook(
                "Requests queue for a database connection: the pool is exhausted.",
                pool_queries,
                pool_causes,
            ),
        ),
        Alert(
            "DatabasePoolTimeouts",
            f"{timeouts} > 0",
            60.0,
            "critical",
            "{{ $labels.job }}: connection requests to {{ $labels." + pool + " }} time out",
            '{{ printf "%.3g" $value }}'
            f" connection requests per second to pool "
            f"{{{{ $labels.{pool} }}}} timed out over the last {w}: those requests failed.",
            Runbook(
                "Requests gave up waiting for a connection (SQLAlchemy `pool_timeout`): users "
                "see errors.",
                pool_queries,
                (*pool_causes, "the database refusing connections (`max_connections`)"),
            ),
        ),
        Alert(
            "DatabaseSlowQueries",
            f"{p95} > {t.db_latency_p95_s:g}",
            t.latency_for_s,
            "warning",
            "{{ $labels.job }}: p95 query time {{ $value | humanizeDuration }}",
            f"95 % of the database operations on {{{{ $labels.{namespace} }}}} took up to "
            f"{{{{ $value | humanizeDuration }}}} over the last {w} "
            f"(threshold {seconds(t.db_latency_p95_s)}).",
            Runbook(
                "Database operations are slow; requests that run them are slow too.",
                (
                    p95,
                    "histogram_quantile(0.95, sum by (db_operation_name, db_collection_name, le)"
                    f' (rate({ctx.series(OPERATION, "_bucket")}{{job="<service>"}}[{w}])))',
                ),
                (
                    "a missing index or a plan change (check `pg_stat_statements`)",
                    "locks held by long transactions",
                    "the database host saturated (CPU, I/O)",
                ),
            ),
        ),
        Alert(
            "DatabaseErrors",
            f"{error_ratio} > {t.db_error_rate:g}",
            t.error_rate_for_s,
            "warning",
            "{{ $labels.job }}: {{ $value | humanizePercentage }} of database operations fail",
            f"{{{{ $value | humanizePercentage }}}} of the operations on "
            f"{{{{ $labels.{namespace} }}}} failed over the last {w} "
            f"(threshold {t.db_error_rate:.2%}).",
            Runbook(
                "Database operations raise errors (`error.type` is the exception or the "
                "database's error code).",
                (
                    error_ratio,
                    f"sum by ({error}, db_operation_name) "
                    f'(rate({op_count}{{job="<service>", {error}!=""}}[{w}]))',
                ),
                (
                    "constraint violations or deadlocks after a change",
                    "the database restarting or failing over",
                    "statement timeouts",
                ),
            ),
        ),
    )
    return [Group(f"{RULES_PREFIX}-db", (*records, *alerts))]
