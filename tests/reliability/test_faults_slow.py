"""A slow collector, and collectors that push back: the rest of the fault suite's collectors.

* ``slow``: the collector reads each export and answers 200 only after 10 s (overloaded, not
  gone). Requests through an instrumented app must not notice, memory stays bounded, and
  ``shutdown()`` gives up within its own timeout and says so (False).
* ``429`` / ``503`` with ``Retry-After``: the OTLP/HTTP exporter of the OpenTelemetry SDK
  retries these after the delay the collector asked for, provided the retry fits within the
  export deadline (``OTEL_EXPORTER_OTLP_TIMEOUT``); a delay past the deadline fails the export
  at once, without waiting, and otelkit counts it (``reason="unavailable"``).
* ``400`` / ``401``: never retried (one request reaches the collector) and counted as
  ``rejected``.

The servers are stdlib HTTP servers on 127.0.0.1 that count the export requests they receive.
"""

from __future__ import annotations

import threading
import time
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any

import pytest

import otelkit
from tests.reliability.test_faults import (
    RSS_GROWTH_MB,
    _configure,
    _hello,
    _no_otel_variables,  # noqa: F401 (an autouse fixture: OTEL_* of the shell unset)
    _own,
    _workload,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from tests.fixtures.otlp_receiver import OtlpReceiver

pytestmark = pytest.mark.integration

SLOW_ANSWER_S = 10.0
TEST_SPAN = "faults-slow-checkout"


class _Collector(ThreadingHTTPServer):
    """Answers every export with the next of ``answers`` (the last one repeats)."""

    block_on_close = False
    daemon_threads = True
    endpoint = ""

    def __init__(
        self, answers: list[tuple[int, dict[str, str]]], delay: float, only_test_span: bool
    ) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.answers = answers
        self.only_test_span = only_test_span
        self.delay = delay
        self.released = threading.Event()  # set on close: a slow answer is given at once
        self.hits: list[tuple[float, str]] = []  # (monotonic time, path) of each export
        self.lock = threading.Lock()

    def answer(self, path: str, body: bytes) -> tuple[int, dict[str, str]]:
        """The next answer; with ``only_test_span``, only for exports of the test's span: any
        other (a span some other thread of the process ended meanwhile) is accepted, uncounted."""
        if self.only_test_span and not (path.endswith("/v1/traces") and _holds_the_test_span(body)):
            return 200, {}
        with self.lock:
            self.hits.append((time.monotonic(), path))
            return self.answers[min(len(self.hits), len(self.answers)) - 1]

    def trace_hits(self) -> list[float]:
        with self.lock:
            return [at for at, path in self.hits if path.endswith("/v1/traces")]


def _holds_the_test_span(body: bytes) -> bool:
    """Whether an OTLP/HTTP traces export carries the span ``_export_one_span`` ends."""
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
        ExportTraceServiceRequest,
    )

    request = ExportTraceServiceRequest.FromString(body)
    return any(
        span.name == TEST_SPAN
        for resource in request.resource_spans
        for scope in resource.scope_spans
        for span in scope.spans
    )


class _Handler(BaseHTTPRequestHandler):
    server: _Collector
    protocol_version = "HTTP/1.1"

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        status, headers = self.server.answer(self.path, body)
        self.server.released.wait(self.server.delay)
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextmanager
def _collector(
    answers: list[tuple[int, dict[str, str]]], delay: float = 0.0, *, only_test_span: bool = False
) -> Iterator[_Collector]:
    server = _Collector(answers, delay, only_test_span)
    thread = threading.Thread(target=server.serve_forever, name="collector", daemon=True)
    thread.start()
    server.endpoint = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield server
    finally:
        server.released.set()
        server.shutdown()
        server.server_close()
        thread.join(5)


def test_a_slow_collector_adds_no_latency_and_shutdown_keeps_its_timeout(
    otlp_http: OtlpReceiver, record_property: Callable[[str, object], None]
) -> None:
    app = otelkit.instrument_app(_hello)
    telemetry = _configure("http/protobuf", otlp_http.endpoint)
    healthy = _workload(telemetry, app)
    telemetry.shutdown(timeout=5)

    with _collector([(200, {})], delay=SLOW_ANSWER_S) as collector:
        # An export deadline longer than the answer: the exporter waits the full 10 s.
        telemetry = otelkit.init_telemetry(
            service_name="shop",
            metrics_exporters="otlp,memory",
            traces_exporters="otlp",
            otlp_protocol="http/protobuf",
            otlp_endpoint=collector.endpoint,
            otlp_timeout=int(SLOW_ANSWER_S * 1000) + 5000,
            metric_export_interval_ms=200,
        )
        slow = _workload(telemetry, app)
        started = time.monotonic()
        delivered = telemetry.shutdown(timeout=2)
        took = time.monotonic() - started
        hits = len(collector.trace_hits())

    figures = {"healthy": healthy, "slow": slow, "shutdown_s": took, "trace_exports": hits}
    record_property("figures", figures)
    print(f"\nslow collector: {figures}")
    assert hits >= 1, figures  # the exporter did reach the slow collector
    assert slow["p99_ms"] <= max(3 * healthy["p99_ms"], healthy["p99_ms"] + 5.0), figures
    assert slow["rss_growth_mb"] < RSS_GROWTH_MB, figures
    assert slow["thread_growth"] <= 2, figures
    assert delivered is False  # an export was still waiting for its answer
    assert took < 2 + 1.5, figures  # its own timeout, not the collector's 10 s


def _pushback_telemetry(endpoint: str, timeout_ms: int) -> otelkit.Telemetry:
    return otelkit.init_telemetry(
        service_name="shop",
        metrics_exporters="memory",  # only spans go to the collector under test
        traces_exporters="otlp",
        otlp_protocol="http/protobuf",
        otlp_endpoint=endpoint,
        otlp_timeout=timeout_ms,
    )


def _export_one_span(telemetry: otelkit.Telemetry) -> bool:
    with telemetry.tracer.start_as_current_span(TEST_SPAN):
        pass
    return telemetry.force_flush(timeout=10)


def _new_failures(telemetry: otelkit.Telemetry, before: dict[Any, int]) -> dict[Any, int]:
    """otelkit's failure counts of traces/otlp since ``before`` (they count process-wide)."""
    now = _own(telemetry, "otelkit.export.failures")
    grown = {key: n - before.get(key, 0) for key, n in now.items() if key[0] == "traces/otlp"}
    return {key: n for key, n in grown.items() if n}


@pytest.mark.parametrize("status", [429, 503])
def test_retry_after_is_honoured_within_the_export_deadline(status: int) -> None:
    """The collector asks for 2 s; the SDK's own backoff would be 0.8 to 1.2 s."""
    with _collector([(status, {"Retry-After": "2"}), (200, {})], only_test_span=True) as collector:
        telemetry = _pushback_telemetry(collector.endpoint, timeout_ms=5000)
        before = _own(telemetry, "otelkit.export.failures")
        delivered = _export_one_span(telemetry)
        failures = _new_failures(telemetry, before)
        hits = collector.trace_hits()  # the flush's exports: not what shutdown sends later
        telemetry.shutdown(timeout=5)

    assert delivered is True
    assert len(hits) == 2, hits  # refused once, accepted on the retry
    print(f"\n{status} with Retry-After: 2: retried after {hits[1] - hits[0]:.2f} s")
    assert 1.9 <= hits[1] - hits[0] <= 3.0, hits[1] - hits[0]
    assert not failures, failures


@pytest.mark.parametrize("status", [429, 503])
def test_retry_after_past_the_deadline_fails_at_once_and_is_counted(status: int) -> None:
    with _collector([(status, {"Retry-After": "30"})], only_test_span=True) as collector:
        telemetry = _pushback_telemetry(collector.endpoint, timeout_ms=3000)
        before = _own(telemetry, "otelkit.export.failures")
        started = time.monotonic()
        delivered = _export_one_span(telemetry)
        took = time.monotonic() - started
        failures = _new_failures(telemetry, before)
        hits = collector.trace_hits()  # the flush's exports: not what shutdown sends later
        telemetry.shutdown(timeout=5)

    assert delivered is False
    assert len(hits) == 1, hits  # no retry: 30 s does not fit in the 3 s deadline
    assert took < 3.0, took  # and no waiting for it either
    assert failures == {("traces/otlp", "unavailable"): 1}, failures


@pytest.mark.parametrize("status", [400, 401])
def test_a_rejected_export_is_not_retried(status: int) -> None:
    with _collector([(status, {"Retry-After": "1"})], only_test_span=True) as collector:
        telemetry = _pushback_telemetry(collector.endpoint, timeout_ms=5000)
        before = _own(telemetry, "otelkit.export.failures")
        delivered = _export_one_span(telemetry)
        failures = _new_failures(telemetry, before)
        hits = collector.trace_hits()  # the flush's exports: not what shutdown sends later
        telemetry.shutdown(timeout=5)

    assert delivered is False
    assert len(hits) == 1, hits
    assert failures == {("traces/otlp", "rejected"): 1}, failures
