"""HTTP server rows: the overview (rate, errors, latency, in-flight) and the per-route view."""

from __future__ import annotations

from typing import TYPE_CHECKING

from opentelemetry.semconv.attributes.http_attributes import (
    HTTP_REQUEST_METHOD,
    HTTP_RESPONSE_STATUS_CODE,
    HTTP_ROUTE,
)

from otelkit.ops.dashboard._model import Panel, Row, Target
from otelkit.ops.dashboard._promql import RANGE, by, label, quantile, ratio, selector, sum_rate

if TYPE_CHECKING:
    from otelkit.ops.dashboard._names import Names

DURATION = "http.server.request.duration"
ACTIVE = "http.server.active_requests"

ROUTE, METHOD, STATUS = (
    label(HTTP_ROUTE),
    label(HTTP_REQUEST_METHOD),
    label(HTTP_RESPONSE_STATUS_CODE),
)
QUANTILES = (0.5, 0.95, 0.99)
SERVER_ERROR = f'{STATUS}=~"5.."'


def rows(names: Names) -> tuple[Row, ...]:
    if DURATION not in names:
        return ()
    return (_overview(names), _routes(names))


def _overview(names: Names) -> Row:
    count = names.series(DURATION, "_count")
    buckets = names.series(DURATION, "_bucket")
    panels = [
        Panel(
            "Requests per second",
            "timeseries",
            (Target(sum_rate(selector(count, route=ROUTE)), "requests/s"),),
            unit="reqps",
            description="Requests served per second, all workers and replicas together.",
            width=6,
        ),
        Panel(
            "Error ratio (5xx)",
            "timeseries",
            (Target(_error_ratio(count, ()), "5xx / all"),),
            unit="percentunit",
            description="The share of responses with a 5xx status code.",
            width=6,
        ),
        Panel(
            "Latency p50 / p95 / p99",
            "timeseries",
            tuple(
                Target(quantile(q, selector(buckets, route=ROUTE)), f"p{q * 100:g}")
                for q in QUANTILES
            ),
            unit="s",
            description="Request duration quantiles, from the histogram buckets of all workers.",
            width=6,
        ),
    ]
    if ACTIVE in names:
        panels.append(
            Panel(
                "Requests in flight",
                "timeseries",
                (Target(by((), selector(names.series(ACTIVE))), "in flight"),),
                description="Requests being served right now (all routes: the gauge has none).",
                width=6,
            )
        )
    return Row("Overview", tuple(panels))


def _routes(names: Names) -> Row:
    count = names.series(DURATION, "_count")
    buckets = names.series(DURATION, "_bucket")
    keys = (ROUTE, METHOD)
    table = Panel(
        "Routes over the time range",
        "table",
        (
            Target(
                sum_rate(selector(count, route=ROUTE), keys, RANGE), "requests/s", True, "reqps"
            ),
            Target(_error_ratio(count, keys, RANGE), "5xx ratio", True, "percentunit"),
            Target(quantile(0.95, selector(buckets, route=ROUTE), keys, RANGE), "p95", True, "s"),
            Target(quantile(0.99, selector(buckets, route=ROUTE), keys, RANGE), "p99", True, "s"),
        ),
        description="Each route template and method: rate, 5xx ratio and latency over the range.",
        width=24,
    )
    legend = f"{{{{{METHOD}}}}} {{{{{ROUTE}}}}}"
    return Row(
        "Routes",
        (
            table,
            Panel(
                "Requests per second by route",
                "timeseries",
                (Target(sum_rate(selector(count, route=ROUTE), keys), legend),),
                unit="reqps",
            ),
            Panel(
                "p95 latency by route",
                "timeseries",
                (Target(quantile(0.95, selector(buckets, route=ROUTE), keys), legend),),
                unit="s",
            ),
            Panel(
                "Latency distribution",
                "heatmap",
                (Target(sum_rate(selector(buckets, route=ROUTE), ("le",)), "{{le}}"),),
                unit="s",
                description="Requests per second in each duration bucket, all routes selected.",
            ),
            Panel(
                "Responses by status code",
                "timeseries",
                (
                    Target(
                        sum_rate(selector(count, route=ROUTE), (STATUS,)),
                        f"{{{{{STATUS}}}}}",
                    ),
                ),
                unit="reqps",
            ),
        ),
    )


def _error_ratio(count: str, keys: tuple[str, ...], window: str | None = None) -> str:
    extra = () if window is None else (window,)
    errors = sum_rate(selector(count, SERVER_ERROR, route=ROUTE), keys, *extra)
    total = sum_rate(selector(count, route=ROUTE), keys, *extra)
    return ratio(errors, total)
