"""The HTTP server metrics, declared for the catalog and created from these declarations.

Stable semantic conventions throughout. The body sizes are opt-in
(``OTELKIT_HTTP_BODY_SIZE``) and carry the same attributes as the duration.
"""

from __future__ import annotations

from opentelemetry.semconv._incubating.metrics.http_metrics import (
    HTTP_SERVER_ACTIVE_REQUESTS,
    HTTP_SERVER_REQUEST_BODY_SIZE,
    HTTP_SERVER_RESPONSE_BODY_SIZE,
)
from opentelemetry.semconv.attributes.error_attributes import ERROR_TYPE
from opentelemetry.semconv.attributes.http_attributes import (
    HTTP_REQUEST_METHOD,
    HTTP_RESPONSE_STATUS_CODE,
    HTTP_ROUTE,
    HttpRequestMethodValues,
)
from opentelemetry.semconv.attributes.network_attributes import NETWORK_PROTOCOL_VERSION
from opentelemetry.semconv.attributes.url_attributes import URL_SCHEME
from opentelemetry.semconv.metrics.http_metrics import HTTP_SERVER_REQUEST_DURATION

from otelkit.metrics._spec import MetricSpec, stable

__all__ = ["ACTIVE_REQUESTS", "METRICS", "REQUEST_BODY_SIZE", "REQUEST_DURATION"]

INTEGRATION = "http"

_METHOD = stable(
    HTTP_REQUEST_METHOD,
    *(m.value for m in HttpRequestMethodValues),
    description="The request method; methods the conventions do not know are _OTHER.",
)
_SCHEME = stable(URL_SCHEME, "http", "https")
_REQUEST = (
    _METHOD,
    stable(HTTP_ROUTE, description="The route template, never the raw path; absent unmatched."),
    stable(HTTP_RESPONSE_STATUS_CODE),
    _SCHEME,
    stable(
        ERROR_TYPE,
        description="The exception's type, or the status code of a 5xx response.",
    ),
    stable(NETWORK_PROTOCOL_VERSION, description="The HTTP version, when the server tells it."),
)

REQUEST_DURATION = MetricSpec(
    HTTP_SERVER_REQUEST_DURATION,
    "histogram",
    "s",
    "Duration of HTTP server requests.",
    _REQUEST,
    INTEGRATION,
)
ACTIVE_REQUESTS = MetricSpec(
    HTTP_SERVER_ACTIVE_REQUESTS,
    "updowncounter",
    "{request}",
    "Number of active HTTP server requests.",
    (_METHOD, _SCHEME),
    INTEGRATION,
)
REQUEST_BODY_SIZE = MetricSpec(
    HTTP_SERVER_REQUEST_BODY_SIZE,
    "histogram",
    "By",
    "Size of HTTP server request bodies.",
    _REQUEST,
    INTEGRATION,
    opt_in=True,
)
RESPONSE_BODY_SIZE = MetricSpec(
    HTTP_SERVER_RESPONSE_BODY_SIZE,
    "histogram",
    "By",
    "Size of HTTP server response bodies.",
    _REQUEST,
    INTEGRATION,
    opt_in=True,
)

METRICS = (REQUEST_DURATION, ACTIVE_REQUESTS, REQUEST_BODY_SIZE, RESPONSE_BODY_SIZE)
