"""The database instruments of one configuration: query duration and the connection pool.

Bound lazily to the running configuration, as the HTTP middlewares' recorder is: a
re-configuration gets fresh instruments. Which recorder is current, and what changing it does
to the engines' pool counts, is ``_engine``'s business.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.semconv._incubating.metrics.db_metrics import (
    DB_CLIENT_CONNECTION_COUNT,
    DB_CLIENT_CONNECTION_CREATE_TIME,
    DB_CLIENT_CONNECTION_MAX,
    DB_CLIENT_CONNECTION_PENDING_REQUESTS,
    DB_CLIENT_CONNECTION_TIMEOUTS,
    DB_CLIENT_CONNECTION_USE_TIME,
    DB_CLIENT_CONNECTION_WAIT_TIME,
)
from opentelemetry.semconv.metrics.db_metrics import DB_CLIENT_OPERATION_DURATION

from otelkit._version import __version__
from otelkit.instrumentation._recorder import Recorder

if TYPE_CHECKING:
    from otelkit.metrics._fastpath import FastHistogram, FastSum
    from otelkit.runtime._telemetry import Telemetry

SCOPE = InstrumentationScope("otelkit.sqlalchemy", __version__)
COMPONENT = "sqlalchemy"
"""The component named by ``guarded`` when a listener fails."""

DB_DURATION_BUCKETS = (0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 10.0)
"""The advisory boundaries of ``db.client.operation.duration`` in the stable database semantic
conventions (the Python semconv package carries names, not advisory parameters)."""
POOL_TIME_BUCKETS = (0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 10.0)
"""For the pool's wait, use and create times (semconv gives no advice): finer at the bottom,
where waiting for an idle connection lives."""


class SqlAlchemyRecorder(Recorder):
    """The instruments and span factory of one configuration."""

    def __init__(self, telemetry: Telemetry) -> None:
        super().__init__(telemetry, SCOPE)
        self.duration: FastHistogram = self.histogram(
            DB_CLIENT_OPERATION_DURATION,
            unit="s",
            description="Duration of database client operations.",
            boundaries=DB_DURATION_BUCKETS,
        )
        self.count: FastSum = self.sum(
            DB_CLIENT_CONNECTION_COUNT,
            unit="{connection}",
            description="The number of connections that are currently in state described by "
            "the `state` attribute.",
            monotonic=False,
        )
        self.max: FastSum = self.sum(
            DB_CLIENT_CONNECTION_MAX,
            unit="{connection}",
            description="The maximum number of open connections allowed.",
            monotonic=False,
        )
        self.pending: FastSum = self.sum(
            DB_CLIENT_CONNECTION_PENDING_REQUESTS,
            unit="{request}",
            description="The number of current pending requests for an open connection.",
            monotonic=False,
        )
        self.timeouts: FastSum = self.sum(
            DB_CLIENT_CONNECTION_TIMEOUTS,
            unit="{timeout}",
            description="The number of connection timeouts that have occurred trying to obtain "
            "a connection from the pool.",
            monotonic=True,
        )
        self.wait_time = self._pool_time(
            DB_CLIENT_CONNECTION_WAIT_TIME,
            "The time it took to obtain an open connection from the pool.",
        )
        self.use_time = self._pool_time(
            DB_CLIENT_CONNECTION_USE_TIME,
            "The time between borrowing a connection and returning it to the pool.",
        )
        self.create_time = self._pool_time(
            DB_CLIENT_CONNECTION_CREATE_TIME, "The time it took to create a new connection."
        )

    def _pool_time(self, name: str, description: str) -> FastHistogram:
        return self.histogram(name, unit="s", description=description, boundaries=POOL_TIME_BUCKETS)
