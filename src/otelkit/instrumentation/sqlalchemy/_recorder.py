"""The database instruments of one configuration: query duration and the connection pool.

Bound lazily to the running configuration, as the HTTP middlewares' recorder is: a
re-configuration gets fresh instruments. Which recorder is current, and what changing it does
to the engines' pool counts, is ``_engine``'s business.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.semconv._incubating.attributes.db_attributes import (
    DB_CLIENT_CONNECTION_POOL_NAME,
    DB_CLIENT_CONNECTION_STATE,
)
from opentelemetry.semconv._incubating.metrics.db_metrics import (
    DB_CLIENT_CONNECTION_COUNT,
    DB_CLIENT_CONNECTION_CREATE_TIME,
    DB_CLIENT_CONNECTION_MAX,
    DB_CLIENT_CONNECTION_PENDING_REQUESTS,
    DB_CLIENT_CONNECTION_TIMEOUTS,
    DB_CLIENT_CONNECTION_USE_TIME,
    DB_CLIENT_CONNECTION_WAIT_TIME,
)
from opentelemetry.semconv.attributes.db_attributes import (
    DB_COLLECTION_NAME,
    DB_NAMESPACE,
    DB_OPERATION_NAME,
    DB_RESPONSE_STATUS_CODE,
    DB_SYSTEM_NAME,
)
from opentelemetry.semconv.attributes.error_attributes import ERROR_TYPE
from opentelemetry.semconv.attributes.server_attributes import SERVER_ADDRESS, SERVER_PORT
from opentelemetry.semconv.metrics.db_metrics import DB_CLIENT_OPERATION_DURATION

from otelkit._version import __version__
from otelkit.instrumentation._recorder import Recorder
from otelkit.metrics._spec import MetricSpec, development, stable

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


INTEGRATION = "db"
_POOL = (development(DB_CLIENT_CONNECTION_POOL_NAME, description="The engine's pool."),)
_OPERATION = (
    stable(DB_SYSTEM_NAME),
    stable(DB_NAMESPACE, description="The database (not for SQLite)."),
    stable(SERVER_ADDRESS),
    stable(SERVER_PORT),
    stable(DB_OPERATION_NAME, description="SELECT, INSERT, ... read from the statement."),
    stable(DB_COLLECTION_NAME, description="The table, when the statement names one."),
    stable(DB_RESPONSE_STATUS_CODE, description="The database's error code, on errors."),
    stable(ERROR_TYPE, description="The exception's type, on errors."),
)

OPERATION_DURATION = MetricSpec(
    DB_CLIENT_OPERATION_DURATION,
    "histogram",
    "s",
    "Duration of database client operations.",
    _OPERATION,
    INTEGRATION,
)
CONNECTION_COUNT = MetricSpec(
    DB_CLIENT_CONNECTION_COUNT,
    "updowncounter",
    "{connection}",
    "The number of connections that are currently in state described by the `state` attribute.",
    (*_POOL, development(DB_CLIENT_CONNECTION_STATE, "idle", "used")),
    INTEGRATION,
)
CONNECTION_MAX = MetricSpec(
    DB_CLIENT_CONNECTION_MAX,
    "updowncounter",
    "{connection}",
    "The maximum number of open connections allowed.",
    _POOL,
    INTEGRATION,
)
PENDING_REQUESTS = MetricSpec(
    DB_CLIENT_CONNECTION_PENDING_REQUESTS,
    "updowncounter",
    "{request}",
    "The number of current pending requests for an open connection.",
    _POOL,
    INTEGRATION,
)
TIMEOUTS = MetricSpec(
    DB_CLIENT_CONNECTION_TIMEOUTS,
    "counter",
    "{timeout}",
    "The number of connection timeouts that have occurred trying to obtain a connection from "
    "the pool.",
    _POOL,
    INTEGRATION,
)
WAIT_TIME = MetricSpec(
    DB_CLIENT_CONNECTION_WAIT_TIME,
    "histogram",
    "s",
    "The time it took to obtain an open connection from the pool.",
    _POOL,
    INTEGRATION,
)
USE_TIME = MetricSpec(
    DB_CLIENT_CONNECTION_USE_TIME,
    "histogram",
    "s",
    "The time between borrowing a connection and returning it to the pool.",
    _POOL,
    INTEGRATION,
)
CREATE_TIME = MetricSpec(
    DB_CLIENT_CONNECTION_CREATE_TIME,
    "histogram",
    "s",
    "The time it took to create a new connection.",
    _POOL,
    INTEGRATION,
)
METRICS = (
    OPERATION_DURATION,
    CONNECTION_COUNT,
    CONNECTION_MAX,
    PENDING_REQUESTS,
    TIMEOUTS,
    WAIT_TIME,
    USE_TIME,
    CREATE_TIME,
)
"""The database metrics, for the catalog; the recorder creates its instruments from them."""


class SqlAlchemyRecorder(Recorder):
    """The instruments and span factory of one configuration."""

    def __init__(self, telemetry: Telemetry) -> None:
        super().__init__(telemetry, SCOPE)
        self.duration: FastHistogram = self.histogram_of(OPERATION_DURATION, DB_DURATION_BUCKETS)
        self.count: FastSum = self.sum_of(CONNECTION_COUNT)
        self.max: FastSum = self.sum_of(CONNECTION_MAX)
        self.pending: FastSum = self.sum_of(PENDING_REQUESTS)
        self.timeouts: FastSum = self.sum_of(TIMEOUTS)
        self.wait_time = self.histogram_of(WAIT_TIME, POOL_TIME_BUCKETS)
        self.use_time = self.histogram_of(USE_TIME, POOL_TIME_BUCKETS)
        self.create_time = self.histogram_of(CREATE_TIME, POOL_TIME_BUCKETS)
