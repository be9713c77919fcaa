"""A shutdown that runs out of time counts what it could not deliver, and says how much.

Against a black-holed collector (a socket that accepts and never answers) an export hangs for
the whole OTLP timeout, so ``shutdown(timeout=1)`` gives up with one batch in that export and
the rest still queued. Every span recorded is then delivered, counted as refused by the full
queue, counted in a failed export, or counted as given up at shutdown
(``error.type="shutdown_timeout"``): never nothing. The loss counters also exist from the start,
at 0, for every exporter and processor configured.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from collections import Counter
from typing import TYPE_CHECKING

from opentelemetry.semconv._incubating.attributes.otel_attributes import (
    OTEL_COMPONENT_NAME,
    OTEL_COMPONENT_TYPE,
)
from opentelemetry.semconv.attributes.error_attributes import ERROR_TYPE

import otelkit
from otelkit import testing
from tests.fixtures.scrape import Scrape
from tests.reliability._faults import black_hole
from tests.reliability._workload import ended_spans, thread_names

if TYPE_CHECKING:
    import pytest

    from tests.fixtures.otlp_receiver import OtlpReceiver

PROCESSOR = "batching_span_processor/otlp"
EXPORTER = "otlp_http_span_exporter/otlp"


def _dropped() -> Counter[tuple[str, str]]:
    """The process totals of ``otelkit.dropped``, read through a configuration of their own (the
    counters outlive every configuration)."""
    reader = otelkit.init_telemetry(service_name="reader", metrics_exporters="memory")
    try:
        return Counter(
            {
                (
                    p.attributes.get(OTEL_COMPONENT_NAME) or p.attributes[OTEL_COMPONENT_TYPE],
                    p.attributes[ERROR_TYPE],
                ): int(p.value)
                for p in testing.points(reader, "otelkit.dropped")
            }
        )
    finally:
        reader.shutdown(timeout=5)


def _record(telemetry: otelkit.Telemetry, spans: int) -> None:
    for n in range(spans):
        with telemetry.tracer.start_as_current_span(f"order-{n}"):
            pass


def test_spans_a_timed_out_shutdown_leaves_behind_are_counted_and_told(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("OTEL_BSP_MAX_QUEUE_SIZE", "512")
    monkeypatch.setenv("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "64")
    monkeypatch.setenv("OTEL_BSP_SCHEDULE_DELAY", "50")
    recorded = 1000
    before = _dropped()
    with black_hole("http/protobuf") as endpoint:
        telemetry = otelkit.init_telemetry(
            service_name="orders",
            traces_exporters="otlp",
            otlp_endpoint=endpoint,
            otlp_timeout=20_000,  # an export outlives the shutdown: it is given up, not failed
        )
        counted = ended_spans(telemetry)  # the test's spans, and any a stray thread ends here
        _record(telemetry, recorded)
        with caplog.at_level(logging.WARNING, logger="otelkit"):
            assert telemetry.shutdown(timeout=1) is False
        ended = counted.count

    dropped = _dropped()
    dropped.subtract(before)
    refused = dropped[(PROCESSOR, "queue_full")]
    given_up = dropped[(PROCESSOR, "shutdown_timeout")]
    failed = dropped[(EXPORTER, "export_failed")]
    print(f"\n{recorded} spans: {refused} queue_full + {given_up} shutdown_timeout + {failed}")
    assert given_up > 64  # the export under way and the queue behind it
    assert ended >= recorded
    assert refused + given_up + failed == ended, thread_names()  # nothing delivered or lost
    told = [r.getMessage() for r in caplog.records if "shutdown gave up" in r.getMessage()]
    assert len(told) == 1, told
    assert f"on {given_up} span(s)" in told[0]


def test_a_shutdown_in_time_delivers_everything_and_gives_up_nothing(
    otlp_http: OtlpReceiver, caplog: pytest.LogCaptureFixture
) -> None:
    before = _dropped()
    telemetry = otelkit.init_telemetry(
        service_name="orders", traces_exporters="otlp", otlp_endpoint=otlp_http.endpoint
    )
    _record(telemetry, 300)
    with caplog.at_level(logging.WARNING, logger="otelkit"):
        assert telemetry.shutdown(timeout=10) is True

    dropped = _dropped()
    dropped.subtract(before)
    # Nothing of the spans dropped (the metric store's counts are the process's, whatever else
    # an earlier test's thread still records).
    assert not +Counter({k: n for k, n in dropped.items() if k[0] != "otelkit_metric_store"})
    assert not [r for r in caplog.records if "shutdown gave up" in r.getMessage()]
    delivered = sum(
        len(scope.spans)
        for request in otlp_http.requests_for("traces")
        for resource in request.message.resource_spans
        for scope in resource.scope_spans
    )
    assert delivered == 300


FIRST_SCRAPE = """
import otelkit
from tests.fixtures.servers import free_port

telemetry = otelkit.init_telemetry(
    service_name="orders",
    metrics_exporters="prometheus",
    traces_exporters="otlp",
    logs_exporters="otlp",
    otlp_endpoint=f"http://127.0.0.1:{free_port()}",
    prometheus_port=0,
)
print(b"".join(otelkit.metrics_wsgi()({}, lambda *_: None)).decode())
telemetry.shutdown(timeout=1)
"""


def test_the_loss_counters_are_on_the_first_scrape_at_zero() -> None:
    """``rate()``, ``increase()`` and alerts need a series before the first loss: a new process
    shows one at 0 for each configured processor and exporter."""
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "OTELKIT_"))}
    child = subprocess.run(
        [sys.executable, "-c", FIRST_SCRAPE],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
        env={**environ, "PYTHONPATH": os.getcwd()},
    )
    page = Scrape(child.stdout)

    for kind in ("span", "log"):
        processor = {
            "otel_component_type": f"batching_{kind}_processor",
            "otel_component_name": f"batching_{kind}_processor/otlp",
        }
        exporter = {
            "otel_component_type": f"otlp_http_{kind}_exporter",
            "otel_component_name": f"otlp_http_{kind}_exporter/otlp",
        }
        for labels, name, reason in (
            (processor, "otelkit_dropped_total", "queue_full"),
            (exporter, "otelkit_dropped_total", "export_failed"),
            (exporter, "otelkit_export_failures_total", "unavailable"),
            (exporter, "otelkit_export_failures_total", "timeout"),
        ):
            wanted = {**labels, "error_type": reason}
            samples = [
                value
                for sample_labels, value in page.samples.get(name, [])
                if all(sample_labels.get(k) == v for k, v in wanted.items())
            ]
            assert samples == [0.0], (name, wanted)
