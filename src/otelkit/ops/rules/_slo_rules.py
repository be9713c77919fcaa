"""SLO rules: SLI error ratios over the standard windows, burn-rate alerts, budget left.

For each SLO one group: the error ratio (bad events / all events) per service over 5m, 30m,
1h, 2h, 6h, 1d and 3d and over the SLO's period; the multi-window, multi-burn-rate alerts of
the SRE workbook (page: 14.4x over 1h and 5m, or 6x over 6h and 30m; ticket: 3x over 1d and
2h, or 1x over 3d and 6h) and the error budget remaining over the period. Every series carries
the label ``slo``, so one dashboard query shows them all.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from otelkit._errors import ConfigError
from otelkit.config._core import SEMCONV_DURATION_BUCKETS
from otelkit.ops.rules._context import RULES_PREFIX, by
from otelkit.ops.rules._model import Alert, Group, Record, Runbook

if TYPE_CHECKING:
    from otelkit.ops.rules._context import Context
    from otelkit.ops.rules._slo import SLO

__all__ = ["BURN_RATES", "SLI", "WINDOWS", "slo_groups"]

WINDOWS = ("5m", "30m", "1h", "2h", "6h", "1d", "3d")
SLI = "otelkit_slo:sli_error:ratio_rate"
BUDGET = "otelkit_slo:error_budget_remaining:ratio"
OBJECTIVE = "otelkit_slo:objective:ratio"
HTTP = "http.server.request.duration"

BUDGET_INTERVAL = "1m"
"""Evaluation interval of the period ratio and budget (a 30-day window at every evaluation
would cost the most of all the rules; the budget moves slowly)."""

BURN_RATES = {
    # severity: ((factor, long window, short window), ...), alert name, for
    "critical": (((14.4, "1h", "5m"), (6.0, "6h", "30m")), "SLOErrorBudgetBurnFast", 120.0),
    "warning": (((3.0, "1d", "2h"), (1.0, "3d", "6h")), "SLOErrorBudgetBurnSlow", 900.0),
}


def slo_groups(ctx: Context, slos: tuple[SLO, ...]) -> list[Group]:
    names = [slo.name for slo in slos]
    for name in names:
        if names.count(name) > 1:
            raise ConfigError(f"SLO name {name!r} is used twice; give each SLO its own name.")
    return [group for slo in slos for group in (_burn_group(ctx, slo), _budget_group(ctx, slo))]


def _budget_group(ctx: Context, slo: SLO) -> Group:
    """The error ratio over the whole period, from the raw counters (exact, unlike an average
    of short ratios), and the budget left: evaluated every minute, enough for a budget and
    far cheaper than at every evaluation."""
    labels = {"slo": slo.name}
    records = (
        Record(f"{SLI}{slo.period}", _error_ratio(ctx, slo, slo.period), labels),
        Record(OBJECTIVE, f"vector({slo.objective / 100:g})", labels),
        Record(BUDGET, f'1 - {SLI}{slo.period}{{slo="{slo.name}"}} / {slo.error_budget:g}', labels),
    )
    return Group(f"{RULES_PREFIX}-slo-{slo.name}-budget", records, interval=BUDGET_INTERVAL)


def _burn_group(ctx: Context, slo: SLO) -> Group:
    labels = {"slo": slo.name}
    records: list[Record | Alert] = [
        Record(f"{SLI}{w}", _error_ratio(ctx, slo, w), labels) for w in WINDOWS
    ]
    for severity, (pairs, alert, for_s) in BURN_RATES.items():
        conditions = " or ".join(
            f'({SLI}{long}{{slo="{slo.name}"}} > {factor * slo.error_budget:g}'
            f' and {SLI}{short}{{slo="{slo.name}"}} > {factor * slo.error_budget:g})'
            for factor, long, short in pairs
        )
        speed = "fast" if severity == "critical" else "slowly"
        windows_text = " or ".join(f"{f:g}x over {long} and {short}" for f, long, short in pairs)
        records.append(
            Alert(
                alert,
                conditions,
                for_s,
                severity,
                f"{{{{ $labels.job }}}}: SLO {slo.name} burns its error budget {speed}",
                f"The {slo.kind} SLO {slo.name} ({slo.objective:g} % over {slo.period}) of "
                f"{{{{ $labels.job }}}} has an error ratio of {{{{ $value | humanizePercentage }}}}"
                f", burning its budget of {slo.error_budget:.3%} {windows_text}.",
                _runbook(severity, slo),
                labels,
            )
        )
    return Group(f"{RULES_PREFIX}-slo-{slo.name}", tuple(records))


def _error_ratio(ctx: Context, slo: SLO, window: str) -> str:
    """The share of bad events over ``window``, per service (0 when all were good)."""
    if slo.function is not None:
        return _function_ratio(ctx, slo, window)
    if not ctx.has("http"):
        raise ConfigError(
            f"SLO {slo.name!r} is about HTTP requests, but the application serves none "
            "(no HTTP integration). Accepted here: function=<a @timed or @counted metric>."
        )
    count = ctx.series(HTTP, "_count")
    matchers = [f'{ctx.label(HTTP, "http.route")}="{slo.route}"'] if slo.route else []
    total = f"sum {by()} (rate({count}{ctx.selector(*matchers)}[{window}]))"
    if slo.latency is None:
        status = ctx.label(HTTP, "http.response.status_code")
        bad = ctx.selector(*matchers, f'{status}=~"5.."')
        return f"(sum {by()} (rate({count}{bad}[{window}])) or 0 * {total}) / {total}"
    le = _boundary(slo, ctx)
    good = ctx.selector(*matchers, f'le="{le}"')
    return f"1 - sum {by()} (rate({ctx.series(HTTP, '_bucket')}{good}[{window}])) / {total}"


def _function_ratio(ctx: Context, slo: SLO, window: str) -> str:
    name = slo.function or ""
    spec = ctx.catalog.get(name)
    if spec is None:
        raise ConfigError(
            f"SLO {slo.name!r}: function={name!r} is not a metric the application declares "
            "(use the name given to @otelkit.timed or @otelkit.counted, and --app to import it)."
        )
    series = spec.prometheus_series()
    count = next((s for s in series if s.endswith(("_count", "_total"))), None)
    if count is None:
        raise ConfigError(
            f"SLO {slo.name!r}: {name!r} is a {spec.instrument}; an SLO needs a @timed "
            "(histogram) or @counted (counter) metric."
        )
    total = f"sum {by()} (rate({count}{ctx.selector()}[{window}]))"
    if slo.latency is None:
        bad = ctx.selector('error_type!=""')
        return f"(sum {by()} (rate({count}{bad}[{window}])) or 0 * {total}) / {total}"
    bucket = next((s for s in series if s.endswith("_bucket")), None)
    if bucket is None:
        raise ConfigError(
            f"SLO {slo.name!r}: a latency objective needs a @timed metric; {name!r} has no buckets."
        )
    good = ctx.selector(f'le="{float(slo.latency)!r}"')
    return f"1 - sum {by()} (rate({bucket}{good}[{window}])) / {total}"


def _boundary(slo: SLO, ctx: Context) -> str:
    """The ``le`` of the HTTP bucket the threshold must be (the SLI counts that bucket)."""
    latency = float(slo.latency or 0)
    buckets = ctx.http_buckets or SEMCONV_DURATION_BUCKETS
    if not any(abs(latency - b) < 1e-12 for b in buckets):
        raise ConfigError(
            f"SLO {slo.name!r}: latency={latency:g}s is not a bucket boundary of "
            "http.server.request.duration, so no series can count it. Accepted: "
            f"{', '.join(f'{b:g}' for b in buckets)} (OTELKIT_HTTP_BUCKETS sets them)."
        )
    return repr(latency)


def _runbook(severity: str, slo: SLO) -> Runbook:
    queries = (
        f'{SLI}1h{{slo="<slo>"}}',
        f'{BUDGET}{{slo="<slo>"}}',
    )
    if severity == "critical":
        return Runbook(
            "The service fails its objective so fast that, at this rate, the whole error "
            "budget of the period is gone within days (14.4x: 2 % of a 30-day budget in one "
            "hour). Act now.",
            queries,
            (
                "a bad deployment: roll back first, investigate after",
                "a dependency outage: see the RED, DB and Celery alerts firing beside it",
                "a traffic spike beyond capacity",
            ),
        )
    return Runbook(
        "The service fails its objective slowly but steadily: at this rate the error budget "
        "runs out before the period ends. Plan a fix within days.",
        queries,
        (
            "a route or task with a constant small error share (see the per-route ratios)",
            "latency creeping up with data growth (queries, payloads)",
            "an objective stricter than what the system delivers: revisit it",
        ),
    )
