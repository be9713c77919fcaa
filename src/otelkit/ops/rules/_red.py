"""HTTP server rules (RED: rate, errors, duration) and the scrape target's own alerts.

Everything is computed from ``http.server.request.duration``: its ``_count`` gives the rate
and, with ``http.response.status_code`` 5xx, the errors; its buckets the percentiles. The
recording rules add up workers and replicas per service and route first; the alerts read them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from otelkit.ops.rules._context import RULES_PREFIX, by
from otelkit.ops.rules._model import Alert, Group, Record, Runbook, duration, seconds

if TYPE_CHECKING:
    from otelkit.ops.rules._context import Context

__all__ = ["http_groups", "target_groups"]

HTTP = "http.server.request.duration"
ROUTE = "http.route"
STATUS = "http.response.status_code"


def http_groups(ctx: Context) -> list[Group]:
    t, w = ctx.thresholds, ctx.window
    route, status = ctx.label(HTTP, ROUTE), ctx.label(HTTP, STATUS)
    count, bucket = ctx.series(HTTP, "_count"), ctx.series(HTTP, "_bucket")
    requests_route = f"job_route:http_server_requests:rate{w}"
    errors_route = f"job_route:http_server_errors:rate{w}"
    ratio_route = f"job_route:http_server_error_ratio:ratio_rate{w}"
    ratio = f"job:http_server_error_ratio:ratio_rate{w}"
    requests = f"job:http_server_requests:rate{w}"
    buckets = f"job_route:http_server_request_duration_seconds_bucket:rate{w}"
    p95, p99 = (f"job_route:http_server_request_duration_seconds:p{q}_{w}" for q in (95, 99))
    five_xx = ctx.selector(f'{status}=~"5.."')
    records = (
        Record(requests_route, f"sum {by(route)} (rate({count}{ctx.selector()}[{w}]))"),
        Record(
            errors_route,
            f"sum {by(route)} (rate({count}{five_xx}[{w}])) or 0 * {requests_route}",
        ),
        Record(requests, f"sum {by()} ({requests_route})"),
        Record(f"job:http_server_errors:rate{w}", f"sum {by()} ({errors_route})"),
        Record(ratio, f"job:http_server_errors:rate{w} / {requests}"),
        Record(ratio_route, f"{errors_route} / {requests_route}"),
        Record(buckets, f"sum {by(route, 'le')} (rate({bucket}{ctx.selector()}[{w}]))"),
        Record(p95, f"histogram_quantile(0.95, {buckets})"),
        Record(p99, f"histogram_quantile(0.99, {buckets})"),
    )
    error_queries = (
        f"{ratio_route}",
        f'sum by ({status}, {route}) (rate({count}{{job="<service>"}}[{w}]))',
    )
    alerts = (
        Alert(
            "HighErrorRate",
            f"{ratio} > {t.error_rate:g}",
            t.error_rate_for_s,
            "critical",
            "{{ $labels.job }}: {{ $value | humanizePercentage }} of requests fail",
            f"{{{{ $value | humanizePercentage }}}} of the HTTP requests of {{{{ $labels.job }}}} "
            f"answered 5xx over the last {w} (threshold {t.error_rate:.2%}).",
            Runbook(
                "A share of all requests of the service, over every worker and replica, failed "
                "with a server error (5xx, including unhandled exceptions).",
                error_queries,
                (
                    "a deployment that broke a code path (compare with the deploy time)",
                    "a dependency down or timing out: database, cache, another service",
                    "resource exhaustion: pool saturated, memory, file descriptors",
                ),
            ),
        ),
        Alert(
            "HighRouteErrorRate",
            f"{ratio_route} > {t.error_rate:g}",
            t.error_rate_for_s,
            "warning",
            "{{ $labels.job }} {{ $labels." + route + " }}: {{ $value | humanizePercentage }} fail",
            f"{{{{ $value | humanizePercentage }}}} of the requests to {{{{ $labels.{route} }}}} "
            f"answered 5xx over the last {w} (threshold {t.error_rate:.2%}).",
            Runbook(
                "One route fails more than the threshold, even if the service as a whole does not.",
                error_queries,
                (
                    "a bug in that route's code path or input it does not handle",
                    "a dependency only that route uses",
                ),
            ),
        ),
        Alert(
            "HighLatency",
            f"{p95} > {t.latency_p95_s:g}",
            t.latency_for_s,
            "warning",
            "{{ $labels.job }} {{ $labels." + route + " }}: p95 {{ $value | humanizeDuration }}",
            f"95 % of the requests to {{{{ $labels.{route} }}}} took up to "
            f"{{{{ $value | humanizeDuration }}}} over the last {w} "
            f"(threshold {seconds(t.latency_p95_s)}).",
            _latency_runbook(p95, ctx),
        ),
        Alert(
            "HighLatencyP99",
            f"{p99} > {t.latency_p99_s:g}",
            t.latency_for_s,
            "info",
            "{{ $labels.job }} {{ $labels." + route + " }}: p99 {{ $value | humanizeDuration }}",
            f"99 % of the requests to {{{{ $labels.{route} }}}} took up to "
            f"{{{{ $value | humanizeDuration }}}} over the last {w} "
            f"(threshold {seconds(t.latency_p99_s)}).",
            _latency_runbook(p99, ctx),
        ),
        Alert(
            "NoTraffic",
            f"{requests} == 0",
            t.no_traffic_for_s,
            "warning",
            "{{ $labels.job }} receives no requests",
            f"{{{{ $labels.job }}}} has served no HTTP request for "
            f"{duration(t.no_traffic_for_s)} while it is scraped.",
            Runbook(
                "The service is up (it is scraped) but no request reaches it.",
                (requests, 'up{job="<service>"}'),
                (
                    "the load balancer, ingress or DNS no longer routes to it",
                    "clients failing before they reach it (TLS, auth proxy)",
                    "a quiet period: raise `--no-traffic-for` if that is normal",
                ),
            ),
        ),
    )
    return [Group(f"{RULES_PREFIX}-http", (*records, *alerts))]


def _latency_runbook(record: str, ctx: Context) -> Runbook:
    return Runbook(
        "Requests to the route are slow for most users, measured over every worker and "
        "replica (the quantile is as precise as the histogram's buckets).",
        (
            record,
            f"job_route:http_server_requests:rate{ctx.window}",
            "histogram_quantile(0.95, sum by (job, le) "
            '(rate(db_client_operation_duration_seconds_bucket{job="<service>"}[5m])))',
        ),
        (
            "slow database queries or a saturated connection pool (see the DB rules)",
            "CPU saturation or an event loop blocked by synchronous work",
            "a slow downstream service, or more traffic than capacity",
        ),
    )


def target_groups(ctx: Context) -> list[Group]:
    """Whether Prometheus reaches the service at all (``up``, Prometheus' own series)."""
    up = f"up{ctx.selector()}"
    runbook = Runbook(
        "Prometheus cannot scrape the service's metrics endpoint.",
        (up, 'scrape_duration_seconds{job="<service>"}'),
        (
            "the process is down or restarting (crash loop, OOM kill)",
            "the metrics port is not reachable (bind address, firewall, network policy)",
            "a wrong or missing bearer token (`OTELKIT_PROMETHEUS_TOKEN`): 401 in the targets page",
        ),
    )
    alerts = [
        Alert(
            "ServiceDown",
            f"max {by()} ({up}) == 0",
            60.0,
            "critical",
            "{{ $labels.job }} is down: no target can be scraped",
            "Every scrape target of {{ $labels.job }} has failed for 1 minute.",
            runbook,
        ),
        Alert(
            "TargetDown",
            f"{up} == 0",
            300.0,
            "warning",
            "{{ $labels.job }}: {{ $labels.instance }} cannot be scraped",
            "The target {{ $labels.instance }} of {{ $labels.job }} has failed to be scraped "
            "for 5 minutes; the others still answer.",
            runbook,
        ),
    ]
    if ctx.service:
        alerts.append(
            Alert(
                "TargetAbsent",
                f"absent({up})",
                300.0,
                "critical",
                f"{ctx.service} is not scraped at all",
                f"Prometheus has no scrape target for job {ctx.service} (service discovery "
                "lost it, or the scrape configuration changed).",
                Runbook(
                    "Prometheus does not even try to scrape the service: it is gone from "
                    "service discovery or from the configuration.",
                    (up, "prometheus_sd_discovered_targets"),
                    (
                        "the scrape job was renamed or removed",
                        "the pods or hosts lost the labels the discovery selects on",
                        "every replica was scaled away",
                    ),
                ),
                labels={"job": ctx.service},
            )
        )
    return [Group(f"{RULES_PREFIX}-target", tuple(alerts))]
