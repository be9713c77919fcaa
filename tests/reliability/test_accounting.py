"""Nothing is lost without a number: failed exports, full queues and refused names are counted
in ``otelkit.export.failures`` / ``otelkit.dropped``, visible on ``/metrics`` and over OTLP, and
told in one WARNING per exporter instead of one SDK line per batch.

Real exporters and sockets on 127.0.0.1: a port nobody listens on (refused), the OTLP receiver
of ``tests/fixtures`` (healthy), a plugin exporter that raises.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from typing import TYPE_CHECKING

from opentelemetry.semconv._incubating.attributes.otel_attributes import (
    OTEL_COMPONENT_NAME,
    OTEL_COMPONENT_TYPE,
)
from opentelemetry.semconv.attributes.error_attributes import ERROR_TYPE

import otelkit
from tests.fixtures.scrape import scrape_metrics
from tests.fixtures.servers import free_port
from tests.reliability._plugins import slow_failing_plugin_fixture  # noqa: F401 (a fixture)
from tests.reliability._workload import ended_spans, thread_names

if TYPE_CHECKING:
    import pytest

    from tests.fixtures.otlp_receiver import OtlpReceiver


def _refused() -> str:
    return f"http://127.0.0.1:{free_port()}"


def _own(telemetry: otelkit.Telemetry, name: str) -> dict[tuple[str, str], int]:
    """otelkit's own counter ``name`` by (component, reason), from the in-memory reader."""
    from otelkit import testing

    return {
        (
            p.attributes.get(OTEL_COMPONENT_NAME) or p.attributes[OTEL_COMPONENT_TYPE],
            p.attributes[ERROR_TYPE],
        ): p.value
        for p in testing.points(telemetry, name)
    }


def _grown(
    after: dict[tuple[str, str], int], before: dict[tuple[str, str], int]
) -> dict[tuple[str, str], int]:
    return {k: n - before.get(k, 0) for k, n in after.items() if n != before.get(k, 0)}


def test_a_failed_metric_export_makes_the_flush_false() -> None:
    telemetry = otelkit.init_telemetry(
        service_name="orders", metrics_exporters="otlp", otlp_endpoint=_refused(), otlp_timeout=300
    )
    telemetry.meter.create_counter("orders.placed").add(1)

    assert telemetry.force_flush(timeout=5) is False
    assert telemetry.shutdown(timeout=5) is False


def test_a_delivered_metric_export_makes_the_flush_true(otlp_http: OtlpReceiver) -> None:
    telemetry = otelkit.init_telemetry(
        service_name="orders", metrics_exporters="otlp", otlp_endpoint=otlp_http.endpoint
    )
    telemetry.meter.create_counter("orders.placed").add(1)

    assert telemetry.force_flush(timeout=5) is True
    assert otlp_http.wait_for(lambda: _exported(otlp_http, "orders.placed"))


def _exported(receiver: OtlpReceiver, name: str) -> bool:
    """Whether a metric ``name`` arrived (read from the raw requests, attributes undecoded)."""
    return any(
        metric.name == name
        for request in receiver.requests_for("metrics")
        for resource in request.message.resource_metrics
        for scope in resource.scope_metrics
        for metric in scope.metrics
    )


def test_failures_and_lost_items_are_counted_by_exporter_and_reason() -> None:
    telemetry = otelkit.init_telemetry(
        service_name="orders",
        metrics_exporters="memory",
        traces_exporters="otlp",
        otlp_endpoint=_refused(),
        otlp_timeout=300,
    )
    # The counters are process totals: an earlier test may have exported to a refused port.
    failures_before = _own(telemetry, "otelkit.export.failures")
    dropped_before = _own(telemetry, "otelkit.dropped")
    for n in range(3):
        with telemetry.tracer.start_as_current_span(f"order-{n}"):
            pass
    telemetry.force_flush(timeout=5)

    failures = _grown(_own(telemetry, "otelkit.export.failures"), failures_before)
    dropped = _grown(_own(telemetry, "otelkit.dropped"), dropped_before)
    exporter = "otlp_http_span_exporter/otlp"
    assert {k: v for k, v in failures.items() if k[0] == exporter} == {(exporter, "unavailable"): 1}
    assert {k: v for k, v in dropped.items() if k[0] == exporter} == {
        (exporter, "export_failed"): 3
    }


def test_the_counts_are_on_the_prometheus_endpoint(slow_failing_plugin: str) -> None:
    port = free_port()
    telemetry = otelkit.init_telemetry(
        service_name="orders", traces_exporters=slow_failing_plugin, prometheus_port=port
    )
    counted = ended_spans(telemetry)
    with telemetry.tracer.start_as_current_span("order"):
        pass
    telemetry.force_flush(timeout=5)
    ended = counted.count  # before the scrape: the scrape's own client span ends after it

    scrape = scrape_metrics(f"http://127.0.0.1:{port}/metrics")

    exporter = {
        "otel_component_type": "slowfailing_span_exporter",
        "otel_component_name": "slowfailing_span_exporter/slowfailing",
    }
    # One span, one failed export; a span a thread of an earlier test ended into this pipeline
    # would be one more of each (counted, like the test's own).
    failures = scrape.total("otelkit_export_failures_total", **exporter, error_type="unavailable")
    assert 1 <= failures <= ended, thread_names()
    dropped = scrape.total("otelkit_dropped_total", **exporter, error_type="export_failed")
    assert dropped == ended, thread_names()


def test_the_counts_reach_an_otlp_collector(
    otlp_http: OtlpReceiver, slow_failing_plugin: str
) -> None:
    telemetry = otelkit.init_telemetry(
        service_name="orders",
        metrics_exporters="otlp",
        traces_exporters=slow_failing_plugin,
        otlp_endpoint=otlp_http.endpoint,
    )
    with telemetry.tracer.start_as_current_span("order"):
        pass
    telemetry.force_flush(timeout=5)  # the spans fail first, then the metrics carry the count
    telemetry.force_flush(timeout=5)

    assert otlp_http.wait_for(lambda: _exported(otlp_http, "otelkit.export.failures"))


def test_spans_refused_by_a_full_queue_are_counted_and_every_span_is_accounted_for(
    slow_failing_plugin: str, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """Ended spans = exported-and-failed + refused by the full queue: none unaccounted."""
    monkeypatch.setenv("OTEL_BSP_MAX_QUEUE_SIZE", "64")
    monkeypatch.setenv("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "32")
    telemetry = otelkit.init_telemetry(
        service_name="orders", metrics_exporters="memory", traces_exporters=slow_failing_plugin
    )
    before = Counter(_own(telemetry, "otelkit.dropped"))  # process totals: earlier tests' too
    counted = ended_spans(telemetry)
    for n in range(3000):
        with telemetry.tracer.start_as_current_span(f"order-{n}"):
            pass
    telemetry.force_flush(timeout=10)
    ended = counted.count
    assert ended >= 3000, thread_names()

    dropped = Counter(_own(telemetry, "otelkit.dropped"))
    dropped.subtract(before)
    refused = dropped[("batching_span_processor/slowfailing", "queue_full")]
    failed = dropped[("slowfailing_span_exporter/slowfailing", "export_failed")]
    assert refused > ended // 2  # 20 ms per export of 32: most of the burst meets a full queue
    print(f"\n{ended} spans: {refused} queue_full + {failed} export_failed")
    assert refused + failed == ended, thread_names()
    told = [r.getMessage() for r in caplog.records if "queue is full" in r.getMessage()]
    assert len(told) == 1, told  # once, not once per dropped span
    assert "traces/slowfailing" in told[0]


def test_spans_from_many_threads_are_each_accounted_for_exactly_once(
    slow_failing_plugin: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Four threads ending spans into a queue larger than a batch: every span is either in a
    failed export or refused by the full queue, never both, never neither."""
    monkeypatch.setenv("OTEL_BSP_MAX_QUEUE_SIZE", "512")
    monkeypatch.setenv("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "64")
    telemetry = otelkit.init_telemetry(
        service_name="orders", metrics_exporters="memory", traces_exporters=slow_failing_plugin
    )
    before = Counter(_own(telemetry, "otelkit.dropped"))
    counted = ended_spans(telemetry)
    per_thread, threads = 2000, 4

    def burst() -> None:
        for n in range(per_thread):
            with telemetry.tracer.start_as_current_span(f"order-{n}"):
                pass

    workers = [threading.Thread(target=burst) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    telemetry.force_flush(timeout=20)

    dropped = Counter(_own(telemetry, "otelkit.dropped"))
    dropped.subtract(before)
    refused = dropped[("batching_span_processor/slowfailing", "queue_full")]
    failed = dropped[("slowfailing_span_exporter/slowfailing", "export_failed")]
    assert refused > 0
    assert counted.count >= per_thread * threads, thread_names()
    assert refused + failed == counted.count, thread_names()


def test_the_first_failure_is_one_warning_naming_where_with_credentials_masked(
    caplog: pytest.LogCaptureFixture,
) -> None:
    endpoint = f"http://alice:hunter2@127.0.0.1:{free_port()}/?api_key=k3y"
    telemetry = otelkit.init_telemetry(
        service_name="orders", traces_exporters="otlp", otlp_endpoint=endpoint, otlp_timeout=300
    )
    caplog.set_level(logging.DEBUG)
    for n in range(3):  # three failed exports
        with telemetry.tracer.start_as_current_span(f"order-{n}"):
            pass
        telemetry.force_flush(timeout=5)

    about_exports = [
        r for r in caplog.records if r.levelno >= logging.WARNING and "traces/otlp" in r.message
    ]
    assert len(about_exports) == 1
    message = about_exports[0].getMessage()
    assert "127.0.0.1" in message
    assert "/v1/traces" in message
    assert "unavailable" in message
    assert not [r for r in caplog.records if "hunter2" in r.getMessage() or "k3y" in r.getMessage()]
    sdk_lines = [r for r in caplog.records if r.name.startswith("opentelemetry.exporter")]
    assert sdk_lines == []  # the SDK's per-batch and per-retry lines are not repeated


def test_later_failures_are_summed_up_once_per_interval(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    from otelkit.runtime import _failures

    monkeypatch.setattr(_failures, "SUMMARY_INTERVAL_S", 0.5)
    telemetry = otelkit.init_telemetry(
        service_name="orders", traces_exporters="otlp", otlp_endpoint=_refused(), otlp_timeout=200
    )
    caplog.set_level(logging.WARNING, logger="otelkit")
    deadline = time.monotonic() + 1.2
    flushes = 0
    while time.monotonic() < deadline:
        with telemetry.tracer.start_as_current_span("order"):
            pass
        telemetry.force_flush(timeout=5)
        flushes += 1

    told = [r.getMessage() for r in caplog.records if "traces/otlp" in r.getMessage()]
    assert flushes >= 4
    assert 2 <= len(told) <= 4, told  # the first, then at most one per 0.5 s
    assert "more exports of traces/otlp" in told[1]
