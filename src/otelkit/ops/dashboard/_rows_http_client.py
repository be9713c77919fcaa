"""The outgoing HTTP calls row: rate, failures and latency of the calls, per peer."""

from __future__ import annotations

from typing import TYPE_CHECKING

from opentelemetry.semconv.attributes.error_attributes import ERROR_TYPE
from opentelemetry.semconv.attributes.http_attributes import HTTP_RESPONSE_STATUS_CODE
from opentelemetry.semconv.attributes.server_attributes import SERVER_ADDRESS

from otelkit.ops.dashboard._model import Panel, Row, Target
from otelkit.ops.dashboard._promql import RANGE, label, quantile, ratio, selector, sum_rate

if TYPE_CHECKING:
    from otelkit.ops.dashboard._names import Names

DURATION = "http.client.request.duration"

PEER, STATUS, ERROR = label(SERVER_ADDRESS), label(HTTP_RESPONSE_STATUS_CODE), label(ERROR_TYPE)
FAILED = (f'{ERROR}!=""', f'{STATUS}!~"4.."')
"""No response, or a 5xx: what the outgoing error-ratio alert counts (a 4xx is an answer)."""


def rows(names: Names) -> tuple[Row, ...]:
    if DURATION not in names:
        return ()
    count = names.series(DURATION, "_count")
    buckets = names.series(DURATION, "_bucket")
    peers = (PEER,)
    legend = f"{{{{{PEER}}}}}"
    table = Panel(
        "Peers over the time range",
        "table",
        (
            Target(sum_rate(selector(count), peers, RANGE), "calls/s", True, "reqps"),
            Target(_failed_ratio(count, RANGE), "failed ratio", True, "percentunit"),
            Target(quantile(0.95, selector(buckets), peers, RANGE), "p95", True, "s"),
        ),
        description="Each host the service calls: call rate, share of calls without a "
        "response or with a 5xx, and latency over the range.",
        width=24,
    )
    return (
        Row(
            "Outgoing HTTP calls",
            (
                table,
                Panel(
                    "Calls per second by peer",
                    "timeseries",
                    (Target(sum_rate(selector(count), peers), legend),),
                    unit="reqps",
                    description="Outgoing calls per second, all workers and replicas together.",
                ),
                Panel(
                    "Failed calls by peer",
                    "timeseries",
                    (Target(_failed_ratio(count), legend),),
                    unit="percentunit",
                    description="The share of calls that got no response (connection error, "
                    "timeout) or a 5xx.",
                ),
                Panel(
                    "p95 call latency by peer",
                    "timeseries",
                    (Target(quantile(0.95, selector(buckets), peers), legend),),
                    unit="s",
                    description="Until the response's headers arrive.",
                ),
                Panel(
                    "Failures by error type",
                    "timeseries",
                    (
                        Target(
                            sum_rate(selector(count, f'{ERROR}!=""'), (PEER, ERROR)),
                            f"{{{{{PEER}}}}} {{{{{ERROR}}}}}",
                        ),
                    ),
                    unit="reqps",
                    description="Failed calls per second: the exception's type, or the status "
                    "code of a 4xx or 5xx.",
                    width=24,
                ),
            ),
        ),
    )


def _failed_ratio(count: str, window: str | None = None) -> str:
    extra = () if window is None else (window,)
    failed = sum_rate(selector(count, *FAILED), (PEER,), *extra)
    return ratio(failed, sum_rate(selector(count), (PEER,), *extra))
