"""The outgoing-call metric, declared for the catalog and created from this declaration.

Stable semantic conventions: ``http.client.request.duration`` on the conventions' advisory
buckets. ``server.address`` and ``server.port`` name the peer (the host a call was addressed
to, never a userinfo or query); ``error.type`` is the exception's type, or the status code of a
4xx or 5xx response, as the conventions say for clients.
"""

from __future__ import annotations

from opentelemetry.semconv.attributes.error_attributes import ERROR_TYPE
from opentelemetry.semconv.attributes.http_attributes import (
    HTTP_REQUEST_METHOD,
    HTTP_RESPONSE_STATUS_CODE,
    HttpRequestMethodValues,
)
from opentelemetry.semconv.attributes.server_attributes import SERVER_ADDRESS, SERVER_PORT
from opentelemetry.semconv.attributes.url_attributes import URL_SCHEME
from opentelemetry.semconv.metrics.http_metrics import HTTP_CLIENT_REQUEST_DURATION

from otelkit.metrics._spec import MetricSpec, stable

__all__ = ["INTEGRATION", "METRICS", "REQUEST_DURATION"]

INTEGRATION = "http_client"

REQUEST_DURATION = MetricSpec(
    HTTP_CLIENT_REQUEST_DURATION,
    "histogram",
    "s",
    "Duration of outgoing HTTP requests.",
    (
        stable(
            HTTP_REQUEST_METHOD,
            *(m.value for m in HttpRequestMethodValues),
            description="The request method; methods the conventions do not know are _OTHER.",
        ),
        stable(SERVER_ADDRESS, description="The host the call was addressed to."),
        stable(SERVER_PORT, description="The port, the scheme's default when none is given."),
        stable(HTTP_RESPONSE_STATUS_CODE, description="Absent when no response arrived."),
        stable(URL_SCHEME, "http", "https"),
        stable(
            ERROR_TYPE,
            description="The exception's type, or the status code of a 4xx or 5xx response.",
        ),
    ),
    INTEGRATION,
)

METRICS = (REQUEST_DURATION,)
