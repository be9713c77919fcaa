"""Outgoing HTTP call rules: the rate, errors and latency of each service's calls per peer.

Everything comes from ``http.client.request.duration``, summed over workers and replicas per
service and ``server.address`` (the peer called). A call counts as failed when it got no
response (a connection error, a timeout: ``error.type`` without a status code) or a 5xx; a 4xx
is the caller's request refused, an answer rather than a failure of the peer, so it does not
count towards the alert.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from otelkit.ops.rules._context import RULES_PREFIX, by
from otelkit.ops.rules._model import Alert, Group, Record, Runbook

if TYPE_CHECKING:
    from otelkit.ops.rules._context import Context

__all__ = ["http_client_groups"]

CLIENT = "http.client.request.duration"


def http_client_groups(ctx: Context) -> list[Group]:
    t, w = ctx.thresholds, ctx.window
    peer = ctx.label(CLIENT, "server.address")
    status, error = ctx.label(CLIENT, "http.response.status_code"), ctx.label(CLIENT, "error.type")
    count, bucket = ctx.series(CLIENT, "_count"), ctx.series(CLIENT, "_bucket")
    calls = f"job_server:http_client_requests:rate{w}"
    errors = f"job_server:http_client_errors:rate{w}"
    ratio = f"job_server:http_client_error_ratio:ratio_rate{w}"
    buckets = f"job_server:http_client_request_duration_seconds_bucket:rate{w}"
    p95 = f"job_server:http_client_request_duration_seconds:p95_{w}"
    failed = ctx.selector(f'{error}!=""', f'{status}!~"4.."')
    records = (
        Record(calls, f"sum {by(peer)} (rate({count}{ctx.selector()}[{w}]))"),
        Record(errors, f"sum {by(peer)} (rate({count}{failed}[{w}])) or 0 * {calls}"),
        Record(ratio, f"{errors} / {calls}"),
        Record(buckets, f"sum {by(peer, 'le')} (rate({bucket}{ctx.selector()}[{w}]))"),
        Record(p95, f"histogram_quantile(0.95, {buckets})"),
    )
    alert = Alert(
        "HighOutgoingErrorRate",
        f"{ratio} > {t.error_rate:g}",
        t.error_rate_for_s,
        "warning",
        "{{ $labels.job }} -> {{ $labels." + peer + " }}: {{ $value | humanizePercentage }}"
        " of calls fail",
        f"{{{{ $value | humanizePercentage }}}} of the HTTP calls of {{{{ $labels.job }}}} to "
        f"{{{{ $labels.{peer} }}}} got no response or a 5xx over the last {w} "
        f"(threshold {t.error_rate:.2%}).",
        Runbook(
            "A service's calls to one peer (an external API, another service) fail: no "
            "response (connection refused, timeout, TLS) or a server error. 4xx answers do "
            "not count.",
            (
                ratio,
                f'sum by ({peer}, {error}) (rate({count}{{job="<service>", {error}!=""}}[{w}]))',
                p95,
            ),
            (
                "the peer is down, overloaded or rate-limiting (its status page, its 5xx)",
                "network or DNS trouble between the service and the peer (connection errors)",
                "timeouts set shorter than the peer's latency (error.type names a timeout)",
                "credentials or certificates expired (TLS errors; 401/403 show as 4xx)",
            ),
        ),
    )
    return [Group(f"{RULES_PREFIX}-http_client", (*records, alert))]
