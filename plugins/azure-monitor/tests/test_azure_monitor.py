"""The azure_monitor plugin end to end: an instrumented app, the Azure exporters, and a loopback
ingestion endpoint that decodes the envelopes; plus the connection-string validation."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

import pytest
from _ingestion import IKEY, azure_environment, run_app
from otelkit_azure_monitor import (
    DEFAULT_INGESTION_ENDPOINT,
    AzureMonitorPlugin,
    parse_connection_string,
)

import otelkit

if TYPE_CHECKING:
    from pathlib import Path

    from _ingestion import Ingestion

REQUEST = "Microsoft.ApplicationInsights.Request"
METRIC = "Microsoft.ApplicationInsights.Metric"
MESSAGE = "Microsoft.ApplicationInsights.Message"


def requests_of(envelopes: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [e for e in envelopes if e["name"] == REQUEST]


def metric_points(envelopes: list[dict[str, Any]], name: str) -> list[dict[str, Any]]:
    """Each data point of metric ``name``, with the envelope's properties and tags."""
    points = []
    for envelope in envelopes:
        if envelope["name"] != METRIC:
            continue
        data = envelope["data"]["baseData"]
        for point in data["metrics"]:
            if point["name"] == name:
                points.append(
                    {**point, "properties": data.get("properties", {}), "tags": envelope["tags"]}
                )
    return points


def assert_all_delivered(envelopes: list[dict[str, Any]], orders: int, instance: str) -> None:
    """``orders`` requests (ids 1..orders), each exactly once, as requests and in both metrics."""
    requests = requests_of(envelopes)
    urls = sorted(r["data"]["baseData"]["url"] for r in requests)
    assert urls == sorted(f"http://testserver/orders/{i}" for i in range(1, orders + 1))
    assert len({r["data"]["baseData"]["id"] for r in requests}) == orders  # no duplicates
    for request in requests:
        data = request["data"]["baseData"]
        assert data["name"] == "GET /orders/{order_id}"
        assert (data["responseCode"], data["success"]) == ("200", True)

    durations = metric_points(envelopes, "http.server.request.duration")
    assert sum(p["count"] for p in durations) == orders
    assert {p["properties"]["_MS.MetricId"] for p in durations} == {"requests/duration"}
    assert {p["properties"]["request/resultCode"] for p in durations} == {"200"}
    assert {p["properties"]["cloud/roleName"] for p in durations} == {"orders"}

    amounts = metric_points(envelopes, "orders.amount")  # the business metric, 10 x id
    assert sum(p["count"] for p in amounts) == orders
    assert sum(p["value"] for p in amounts) == pytest.approx(10.0 * orders * (orders + 1) / 2)
    assert {p["properties"]["channel"] for p in amounts} == {"web"}

    for envelope in envelopes:
        assert envelope["iKey"] == IKEY
        assert envelope["tags"]["ai.cloud.role"] == "orders"  # service.name
        assert envelope["tags"]["ai.cloud.roleInstance"] == instance  # service.instance.id


@pytest.fixture
def environment(ingestion: Ingestion, tmp_path: Path) -> dict[str, str]:
    env = azure_environment(ingestion, tmp_path / "storage")
    env["OTELKIT_INSTRUMENT"] = "asgi,logging"  # no system metrics among the envelopes
    return env


@pytest.mark.integration
def test_requests_metrics_and_logs_reach_the_ingestion_endpoint(
    ingestion: Ingestion, environment: dict[str, str]
) -> None:
    """N requests: N Request envelopes, the duration and business metrics, the log message."""
    report = run_app(environment, 5)

    assert report["flushed"] == [True]
    assert report["shutdown"] is True
    assert ingestion.failed() == []
    assert {t.path for t in ingestion.tracks} == {"/v2.1/track"}
    envelopes = ingestion.accepted()
    assert_all_delivered(envelopes, 5, report["instance"])
    [message] = [e for e in envelopes if e["name"] == MESSAGE]
    assert message["data"]["baseData"]["message"] == "phase 1 served 5 orders"
    assert message["data"]["baseData"]["properties"]["logger_name"] == "orders"


@pytest.mark.integration
def test_failed_requests_are_retried_in_the_request(
    ingestion: Ingestion, environment: dict[str, str]
) -> None:
    """500s: the Azure SDK's HTTP pipeline retries at once (then after 1.6 s); nothing is lost."""
    ingestion.fail_next(500, 2)

    report = run_app(environment, 4)

    assert [t.status for t in ingestion.failed()] == [500, 500]
    retried = {
        r["data"]["baseData"]["id"] for t in ingestion.failed() for r in requests_of(t.envelopes)
    }
    delivered = {r["data"]["baseData"]["id"] for r in requests_of(ingestion.accepted())}
    assert retried <= delivered
    assert report["flushed"] == [True]
    assert_all_delivered(ingestion.accepted(), 4, report["instance"])


@pytest.mark.integration
def test_throttled_exports_are_stored_and_sent_after_recovery(
    ingestion: Ingestion, environment: dict[str, str], tmp_path: Path
) -> None:
    """429 without Retry-After: not retried in the request; the envelopes go to the storage
    directory and a later successful export (after the retry interval) sends them, once."""
    environment["OTELKIT_AZURE_MONITOR_STORAGE_RETRY_INTERVAL"] = "1"
    ingestion.fail_next(429, 3)  # the first flush: one request per signal, all throttled

    report = run_app(environment, 3, 2, pause=1.5)

    failed = ingestion.failed()
    assert [t.status for t in failed] == [429, 429, 429]
    assert ingestion.tracks[:3] == failed  # the whole first flush was refused
    assert {e["name"] for t in failed for e in t.envelopes} >= {REQUEST, METRIC, MESSAGE}
    assert_all_delivered(ingestion.accepted(), 5, report["instance"])
    messages = sorted(
        e["data"]["baseData"]["message"] for e in ingestion.accepted() if e["name"] == MESSAGE
    )
    assert messages == ["phase 1 served 3 orders", "phase 2 served 2 orders"]
    storage = tmp_path / "storage"
    assert storage.is_dir()
    assert [p for p in storage.rglob("*") if p.is_file()] == []  # drained


# --- configuration -------------------------------------------------------------------------


@pytest.fixture
def no_azure_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith(("OTEL_", "OTELKIT_", "APPLICATIONINSIGHTS_", "APPINSIGHTS_")):
            monkeypatch.delenv(name)


def config_error(**keywords: Any) -> str:
    """The ConfigError's message; a configuration accepted after all is shut down again (its
    handle is the only one the test has), and the test fails."""
    try:
        telemetry = otelkit.init_telemetry(
            service_name="orders", exporters="azure_monitor", **keywords
        )
    except otelkit.ConfigError as error:
        return str(error)
    telemetry.shutdown(timeout=5)
    pytest.fail("init_telemetry() accepted the configuration")


@pytest.mark.usefixtures("no_azure_variables")
def test_missing_connection_string_is_named() -> None:
    message = config_error()
    assert "APPLICATIONINSIGHTS_CONNECTION_STRING is not set" in message
    assert "'azure_monitor' exporter needs it" in message
    assert "InstrumentationKey=<guid>;IngestionEndpoint=https://..." in message


SECRET = "5ec7e7aa-0000-4000-8000-00000000beef"


@pytest.mark.usefixtures("no_azure_variables")
@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("just-a-token", "entry 1 is not Key=Value"),
        (f"IngestionEndpoint=https://example.com;Secret={SECRET}", "no InstrumentationKey"),
        (f"InstrumentationKey={SECRET}x", "the InstrumentationKey is not a GUID"),
        (
            f"InstrumentationKey={SECRET};IngestionEndpoint=ftp://example.com",
            "IngestionEndpoint is not an http:// or https:// URL",
        ),
        (f"InstrumentationKey={SECRET};InstrumentationKey={SECRET}", "given twice"),
        (f"InstrumentationKey={SECRET};Authorization=aad", "Authorization must be ikey"),
        (f"InstrumentationKey={SECRET};IngestionEndpoint=https://x/?a=b", "contains '='"),
    ],
)
def test_malformed_connection_string_is_named_and_masked(
    value: str, reason: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("APPLICATIONINSIGHTS_CONNECTION_STRING", value)
    message = config_error()
    assert message.startswith("APPLICATIONINSIGHTS_CONNECTION_STRING='***' is not valid: ")
    assert reason in message
    assert "Accepted: `InstrumentationKey=<guid>;IngestionEndpoint=https://...`" in message
    assert SECRET not in message
    assert SECRET[:8] not in message


@pytest.mark.usefixtures("no_azure_variables")
def test_malformed_keyword_names_the_keyword() -> None:
    message = config_error(azure_monitor_connection_string=f"InstrumentationKey={SECRET[:-1]}")
    assert message.startswith("init_telemetry(azure_monitor_connection_string=...)='***'")
    assert "got InstrumentationKey=***" in message
    assert SECRET[:8] not in message


@pytest.mark.usefixtures("no_azure_variables")
def test_storage_directory_with_storage_disabled_is_rejected(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("APPLICATIONINSIGHTS_CONNECTION_STRING", f"InstrumentationKey={SECRET}")
    monkeypatch.setenv("OTELKIT_AZURE_MONITOR_STORAGE_DIRECTORY", str(tmp_path))
    monkeypatch.setenv("OTELKIT_AZURE_MONITOR_DISABLE_OFFLINE_STORAGE", "true")
    message = config_error()
    assert "OTELKIT_AZURE_MONITOR_STORAGE_DIRECTORY is set but" in message
    assert "OTELKIT_AZURE_MONITOR_DISABLE_OFFLINE_STORAGE is true" in message


def test_connection_string_is_normalized_for_the_exporter() -> None:
    """Upper-case key lowered (the Azure parser wants lower case), blanks and a trailing ';' or
    '/' dropped, the default endpoint made explicit; the repr hides the key."""
    parsed = parse_connection_string(
        f" instrumentationkey={SECRET.upper()} ; IngestionEndpoint=https://west.example/ ;"
    )
    assert parsed.instrumentation_key == SECRET
    assert parsed.value == f"InstrumentationKey={SECRET};IngestionEndpoint=https://west.example"
    assert SECRET not in repr(parsed)
    bare = parse_connection_string(f"InstrumentationKey={SECRET}")
    assert bare.ingestion_endpoint == DEFAULT_INGESTION_ENDPOINT
    sovereign = parse_connection_string(f"InstrumentationKey={SECRET};EndpointSuffix=example.cn")
    assert sovereign.ingestion_endpoint is None
    assert sovereign.value == f"InstrumentationKey={SECRET};EndpointSuffix=example.cn"


def test_plugin_declares_its_signals_and_variables() -> None:
    assert AzureMonitorPlugin.signals == {"metrics", "traces", "logs"}
    [connection] = [s for s in AzureMonitorPlugin.settings if s.key == "connection_string"]
    assert (connection.env, connection.secret, connection.required) == (
        "APPLICATIONINSIGHTS_CONNECTION_STRING",
        True,
        True,
    )
