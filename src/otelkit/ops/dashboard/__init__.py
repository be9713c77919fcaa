"""Grafana dashboards generated from the metric catalog, with grafana-foundation-sdk.

``generate(catalog)`` returns the dashboard JSON model: an overview, routes, database, Celery,
system and process, health, alerts, SLO and business rows, each only when the catalog has its
metrics. Every query filters on the ``$service``, ``$instance`` and ``$route`` variables and
aggregates over workers and replicas. The SDK is imported only when a dashboard is built.

- ``_model``: rows, panels and queries as plain values; ``_promql``: the PromQL pieces;
- ``_names``: metric names resolved through the catalog;
- ``_rows_*``: one module per row (or pair of rows) and the integration it shows;
- ``_panels``, ``_variables``, ``_build``: the SDK builders and the JSON;
- ``_example``, ``__main__``: the committed example ``docs/generated/dashboard.json``.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Sequence

    from otelkit.ops.catalog import Catalog
    from otelkit.ops.rules import SLO

__all__ = ["generate", "render"]


def generate(
    catalog: Catalog,
    *,
    service: str | None = None,
    slos: Sequence[SLO] | None = None,
    native_histograms: bool = False,
) -> dict[str, Any]:
    """The Grafana dashboard (JSON model) for the metrics of ``catalog``.

    ``service``: preselect this Prometheus job in the ``$service`` variable and name the
    dashboard after it. ``slos``: the objectives whose error budget and burn rates the SLO row
    shows, as ``otelkit rules`` records them (default: those the application registered with
    ``register_slo``; none, no SLO row). Needs ``grafana-foundation-sdk`` (the ``cli`` extra,
    Python 3.11+). ``native_histograms``: the queries read Prometheus native histograms
    (``OTELKIT_HISTOGRAM_AGGREGATION=base2_exponential_bucket_histogram``).
    """
    from otelkit.ops.dashboard._build import generate as build

    if slos is None:
        from otelkit.ops.rules import registered_slos

        slos = registered_slos()
    return build(catalog, service=service, slos=tuple(slos), native_histograms=native_histograms)


def render(dashboard: dict[str, Any]) -> str:
    """The dashboard as the JSON text Grafana imports (stable key order, final newline)."""
    return json.dumps(dashboard, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
