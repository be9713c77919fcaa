"""The dashboard has a row for each integration the catalog covers, and only those."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from otelkit.ops.catalog import load_catalog
from otelkit.ops.dashboard import generate
from otelkit.ops.rules import SLO
from tests.ops.dashboard.helpers import (
    catalog_of,
    expressions,
    panels,
    rows,
    variable_names,
)

ROWS_OF = {
    "http": ("Overview", "Routes"),
    "http_client": ("Outgoing HTTP calls",),
    "db": ("Database",),
    "celery": ("Celery tasks",),
    "system": ("System and process",),
    "process": ("System and process",),
    "health": ("Health checks",),
}
"""Which rows each integration brings, in the order the dashboard shows them."""
ORDER = (
    "Overview",
    "Routes",
    "Outgoing HTTP calls",
    "Database",
    "Celery tasks",
    "System and process",
    "Health checks",
)
SELECTOR = re.compile(r"([a-zA-Z_:][a-zA-Z0-9_:]*)\{([^}]*)\}")


@settings(max_examples=30, deadline=None)
@given(st.sets(st.sampled_from(sorted(ROWS_OF))))
def test_rows_follow_the_integrations_of_the_catalog(integrations: set[str]) -> None:
    dashboard = generate(catalog_of(integrations | {"otelkit"}), slos=())
    expected = {row for integration in integrations for row in ROWS_OF[integration]}
    own = ["Telemetry pipeline (otelkit)"]  # otelkit's loss counters: always in the catalog
    assert list(rows(dashboard)) == [row for row in ORDER if row in expected] + [*own, "Alerts"]
    assert all(panels_ for panels_ in rows(dashboard).values())
    assert ("route" in variable_names(dashboard)) == ("http" in integrations)


def test_the_variables_are_data_source_service_instance_and_route() -> None:
    dashboard = generate(load_catalog(None), slos=())
    assert variable_names(dashboard) == ["datasource", "service", "instance", "route"]


def test_a_service_is_preselected_and_names_the_dashboard() -> None:
    dashboard = generate(load_catalog(None), service="shop", slos=())
    service = dashboard["templating"]["list"][1]
    assert service["current"]["value"] == ["shop"]
    assert (dashboard["title"], dashboard["uid"]) == ("shop (otelkit)", "otelkit-shop")


def test_slos_bring_the_burn_and_budget_row_for_exactly_those_slos() -> None:
    slos = (SLO("shop-availability", 99.9), SLO("checkout.latency", 99, latency=0.5))
    without = generate(catalog_of({"http"}), slos=())
    with_slos = generate(catalog_of({"http"}), slos=slos)
    assert "SLOs: burn rate and error budget" not in rows(without)
    slo_panels = rows(with_slos)["SLOs: burn rate and error budget"]
    queries = [target["expr"] for panel in slo_panels for target in panel["targets"]]
    assert all(r'slo=~"shop\\-availability|checkout\\.latency"' in q for q in queries)


def test_every_query_filters_by_service_and_instance_and_never_splits_by_process() -> None:
    """Workers of a pre-fork server and replicas add up: no query keeps ``process_pid``."""
    dashboard = generate(load_catalog(None), slos=(SLO("all", 99),))
    for expr in expressions(dashboard):
        assert "process_pid" not in expr
        assert expr.startswith(("sum", "max", "min", "count", "histogram_quantile", "(")), expr
        for name, labels in SELECTOR.findall(expr):
            if name == "otelkit_slo:objective:ratio":
                continue  # a constant of the rules, per SLO, not per service
            assert 'job=~"$service"' in labels, expr
            if not name.startswith(("ALERTS", "otelkit_slo:")):
                assert 'instance=~"$instance"' in labels, expr


def test_every_http_query_but_in_flight_filters_by_route() -> None:
    dashboard = generate(catalog_of({"http"}), slos=())
    for expr in expressions(dashboard):
        if "http_server_request_duration" in expr:
            assert 'http_route=~"$route"' in expr, expr


def test_panels_have_unique_ids_read_the_data_source_variable_and_fit_the_grid() -> None:
    dashboard = generate(load_catalog(None), slos=(SLO("all", 99),))
    ids = [panel["id"] for panel in dashboard["panels"]]
    assert len(ids) == len(set(ids))
    for panel in panels(dashboard):
        assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}
        assert panel["gridPos"]["x"] + panel["gridPos"]["w"] <= 24
        assert [t["refId"] for t in panel["targets"]] == list("ABCD"[: len(panel["targets"])])


@pytest.mark.parametrize("integration", sorted(ROWS_OF))
def test_every_metric_name_in_a_query_is_in_the_catalog(integration: str) -> None:
    catalog = catalog_of({integration})
    series = {name for spec in catalog.metrics for name in spec.prometheus_series()}
    rules = ("ALERTS",)
    for expr in expressions(generate(catalog, slos=())):
        for name, _ in SELECTOR.findall(expr):
            assert name in series or name in rules, f"{name} is not in the catalog: {expr}"
