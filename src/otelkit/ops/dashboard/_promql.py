"""PromQL pieces every row uses: the dashboard's label filters, rates, quantiles, ratios.

Every query aggregates with ``sum by (...)`` over the labels it shows, so series of pre-fork
workers (``process_pid``), of replicas (``instance``) and of otelkit's own labels
(``otel_scope_name``) add up into one line instead of one line each.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from otelkit.exporters.prometheus._exposition import label_name

if TYPE_CHECKING:
    from collections.abc import Sequence

RATE_WINDOW = "$__rate_interval"
"""Grafana's window for rate(): at least four scrape intervals, whatever the zoom."""
RANGE = "$__range"
"""The whole time range of the dashboard (instant queries of tables)."""

SERVICE_LABEL = "job"
"""Prometheus names a scraped service by its scrape job (and so does its OTLP receiver, from
``service.name``); the ``$service`` variable filters on it."""
INSTANCE_LABEL = "instance"


def label(attribute: str) -> str:
    """The Prometheus label of an OpenTelemetry attribute (``http.route`` -> ``http_route``),
    as the exposition writes it."""
    return label_name(attribute)


def selector(series: str, *matchers: str, route: str | None = None) -> str:
    """``series`` filtered by the dashboard's variables, then by ``matchers``.

    ``route`` is the label holding the HTTP route, for series the ``$route`` variable filters.
    """
    labels = [f'{SERVICE_LABEL}=~"$service"', f'{INSTANCE_LABEL}=~"$instance"']
    if route is not None:
        labels.append(f'{route}=~"$route"')
    labels.extend(matchers)
    return f"{series}{{{', '.join(labels)}}}"


def by(labels: Sequence[str], expr: str, how: str = "sum") -> str:
    """``expr`` aggregated with ``how`` over everything but ``labels``."""
    if not labels:
        return f"{how}({expr})"
    return f"{how} by ({', '.join(labels)}) ({expr})"


def rate(selected: str, window: str = RATE_WINDOW) -> str:
    return f"rate({selected}[{window}])"


def sum_rate(selected: str, labels: Sequence[str] = (), window: str = RATE_WINDOW) -> str:
    """Per-second rate of a counter (or a histogram's ``_count``), summed by ``labels``."""
    return by(labels, rate(selected, window))


def quantile(q: float, buckets: str, labels: Sequence[str] = (), window: str = RATE_WINDOW) -> str:
    """The ``q`` quantile of a histogram's ``_bucket`` series, per ``labels``."""
    return f"histogram_quantile({q:g}, {sum_rate(buckets, ('le', *labels), window)})"


def ratio(part: str, whole: str) -> str:
    """``part / whole``, 0 rather than no data where ``whole`` has series but ``part`` none.

    Both sides are aggregations with the same grouping: ``part or 0 * whole`` fills the groups
    that had nothing to count (no failures is a ratio of 0, not a gap in the graph).
    """
    return f"({part} or 0 * {whole}) / {whole}"
