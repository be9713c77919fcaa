"""The catalog lists every metric otelkit declares, with the names Prometheus serves them by."""

from __future__ import annotations

import importlib
import pkgutil

import opentelemetry.semconv._incubating.attributes as incubating_attributes
import opentelemetry.semconv.attributes as stable_attributes
import pytest
from opentelemetry.sdk.metrics.export import AggregationTemporality as Temporality
from opentelemetry.sdk.metrics.export import (
    Gauge,
    Histogram,
    HistogramDataPoint,
    Metric,
    MetricsData,
    NumberDataPoint,
    ResourceMetrics,
    ScopeMetrics,
    Sum,
)
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.util.instrumentation import InstrumentationScope

import otelkit
from otelkit.exporters.prometheus._exposition import render
from otelkit.ops.catalog import AttributeSpec, Catalog, MetricSpec, load_catalog
from otelkit.ops.catalog._catalog import everything


def _attribute_names(package: object) -> set[str]:
    """Every attribute name a semantic-conventions attributes package defines."""
    names: set[str] = set()
    for info in pkgutil.iter_modules(package.__path__):  # type: ignore[attr-defined]
        module = importlib.import_module(f"{package.__name__}.{info.name}")  # type: ignore[attr-defined]
        names.update(
            value
            for key, value in vars(module).items()
            if key.isupper() and isinstance(value, str) and "." in value
        )
    return names


STABLE = _attribute_names(stable_attributes)
DEVELOPMENT = _attribute_names(incubating_attributes) - STABLE


def test_every_integration_otelkit_has_is_in_the_catalog() -> None:
    """Without an application, the catalog has every integration otelkit can run."""
    catalog = load_catalog()
    assert {"http", "db", "celery", "system", "process", "health", "otelkit"} <= (
        catalog.integrations()
    )
    assert catalog.get("http.server.request.duration") in catalog.by_integration("http")
    assert catalog.get("no.such.metric") is None


def test_metric_names_are_unique_and_every_instrument_kind_is_known() -> None:
    catalog = load_catalog()
    names = [spec.name for spec in catalog.metrics]
    assert len(names) == len(set(names))
    kinds = {
        "counter",
        "histogram",
        "updowncounter",
        "gauge",
        "observable_counter",
        "observable_updowncounter",
        "observable_gauge",
    }
    assert {spec.instrument for spec in catalog.metrics} <= kinds
    assert all(isinstance(spec, MetricSpec) for spec in catalog.metrics)


def test_self_metrics_count_by_component_and_error_type() -> None:
    """otelkit's telemetry about itself is three counters with the SDK self-observability
    attributes: the component's type (and instance, for exporters and processors) and the
    error type."""
    catalog = load_catalog()
    expected = {
        "otelkit.internal.errors": {"otel.component.type", "error.type"},
        "otelkit.export.failures": {"otel.component.type", "otel.component.name", "error.type"},
        "otelkit.dropped": {"otel.component.type", "otel.component.name", "error.type"},
    }
    for name, attributes in expected.items():
        spec = catalog.get(name)
        assert spec is not None, name
        assert spec.instrument == "counter"
        assert spec.integration == "otelkit"
        assert spec.attribute_names() == attributes


def test_attribute_status_matches_the_semantic_conventions_package() -> None:
    """``stable`` attributes are in the conventions' stable modules, ``development`` ones only
    in the incubating modules, and ``otelkit`` ones in neither."""
    for spec in load_catalog().metrics:
        for attribute in spec.attributes:
            expected = (
                "stable"
                if attribute.name in STABLE
                else "development"
                if attribute.name in DEVELOPMENT
                else "otelkit"
            )
            assert attribute.status == expected, (spec.name, attribute.name)


def test_http_body_sizes_are_opt_in_and_the_duration_is_not() -> None:
    catalog = load_catalog()
    assert catalog.get("http.server.request.body.size").opt_in  # type: ignore[union-attr]
    assert catalog.get("http.server.response.body.size").opt_in  # type: ignore[union-attr]
    assert not catalog.get("http.server.request.duration").opt_in  # type: ignore[union-attr]


def _data(spec: MetricSpec) -> object:
    """One data point of the kind ``spec`` declares, with each of its attributes set."""
    attributes = {a.name: "x" for a in spec.attributes}
    if spec.instrument == "histogram":
        point = HistogramDataPoint(attributes, 0, 1, 1, 1.0, [1, 0], [1.0], 1.0, 1.0)
        return Histogram([point], Temporality.CUMULATIVE)
    number = NumberDataPoint(attributes, 0, 1, 1)
    if spec.instrument in ("gauge", "observable_gauge"):
        return Gauge([number])
    return Sum([number], Temporality.CUMULATIVE, is_monotonic=spec.monotonic)


def _page(spec: MetricSpec) -> list[str]:
    """The exposition's lines for one point of ``spec``, ``target_info`` left out."""
    metric = Metric(spec.name, spec.description, spec.unit, _data(spec))  # type: ignore[arg-type]
    scope = ScopeMetrics(InstrumentationScope("test"), [metric], "")
    page = render(MetricsData([ResourceMetrics(Resource({}), [scope], "")]), Resource({}))
    return [line for line in page.decode().splitlines() if line and "target_info" not in line]


def _exposed(spec: MetricSpec) -> dict[str, set[str]]:
    """The series names and label names the exposition writes for one point of ``spec``."""
    series: dict[str, set[str]] = {}
    for line in _page(spec):
        if line.startswith("#"):
            continue
        name, _, rest = line.partition("{")
        labels = {pair.split("=", 1)[0] for pair in rest.rsplit("}", 1)[0].split('",') if pair}
        series.setdefault(name, set()).update(labels)
    return series


@pytest.mark.parametrize("spec", load_catalog().metrics, ids=lambda s: s.name)
def test_prometheus_names_are_what_the_exposition_serves(spec: MetricSpec) -> None:
    """The series names and labels the catalog gives are exactly those of a rendered page."""
    exposed = _exposed(spec)
    assert tuple(sorted(exposed)) == tuple(sorted(spec.prometheus_series()))
    labels = set().union(*exposed.values()) - {"otel_scope_name", "le"}
    assert labels == set(spec.prometheus_labels())
    assert all(name.startswith(spec.prometheus_name) for name in exposed)
    types = [line.split()[2:] for line in _page(spec) if line.startswith("# TYPE")]
    assert types == [[spec.prometheus_family, spec.prometheus_kind]]


def test_prometheus_names_of_each_kind() -> None:
    """A counter is served with ``_total``, a histogram as three series, a ratio gauge with
    ``_ratio`` and an up-down counter as a gauge without it."""
    catalog = load_catalog()
    runs = catalog.get("celery.task.runs")
    assert runs is not None
    assert (runs.prometheus_name, runs.prometheus_family, runs.prometheus_series()) == (
        "celery_task_runs",
        "celery_task_runs_total",
        ("celery_task_runs_total",),
    )
    duration = catalog.get("http.server.request.duration")
    assert duration is not None
    assert duration.prometheus_series() == (
        "http_server_request_duration_seconds_bucket",
        "http_server_request_duration_seconds_sum",
        "http_server_request_duration_seconds_count",
    )
    cpu = catalog.get("system.cpu.utilization")
    assert cpu is not None
    assert cpu.prometheus_name == "system_cpu_utilization_ratio"
    memory = catalog.get("system.memory.usage")
    assert memory is not None
    assert memory.prometheus_kind == "gauge"


def test_a_catalog_keeps_the_first_spec_of_a_name_and_lists_by_integration() -> None:
    """A business metric reusing one of otelkit's names never replaces otelkit's spec, and
    integrations come in the catalog's order whatever the declaration order."""
    mine = MetricSpec("shop.orders", "counter", "{order}", "", (), "business")
    duplicate = MetricSpec("http.server.request.duration", "counter", "1", "", (), "business")
    http = load_catalog().get("http.server.request.duration")
    assert http is not None
    catalog = Catalog([mine, http, duplicate])
    assert catalog.get("http.server.request.duration") is http
    assert catalog.ordered_integrations() == ("http", "business")
    assert catalog.business() == (mine,)
    assert catalog.only({"business"}).metrics == (mine,)


def test_specs_are_plain_data_for_json() -> None:
    spec = load_catalog().get("db.client.connection.count")
    assert spec is not None
    data = spec.as_dict()
    assert data["prometheus"] == {
        "name": "db_client_connection_count",
        "family": "db_client_connection_count",
        "type": "gauge",
        "series": ["db_client_connection_count"],
        "labels": ["db_client_connection_pool_name", "db_client_connection_state"],
    }
    state = AttributeSpec("db.client.connection.state", "development", ("idle", "used"))
    assert {**data["attributes"][1], "description": ""} == {  # type: ignore[index]
        "name": state.name,
        "status": state.status,
        "values": list(state.values),
        "description": "",
    }


def test_without_an_app_the_catalog_is_otelkits_own_in_every_process() -> None:
    """Business metrics declared in this process join the application's catalog, never the
    catalog of otelkit's own metrics that docs and examples are generated from."""
    otelkit.counted("unit.only.declared")(lambda: None)
    assert everything().get("unit.only.declared") is not None
    assert load_catalog().get("unit.only.declared") is None
    assert load_catalog().business() == ()
