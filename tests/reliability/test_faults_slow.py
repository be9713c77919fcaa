"""A slow collector, and collectors that push back, over OTLP/HTTP and OTLP/gRPC.

* ``slow``: the collector reads each export and answers it only after 10 s (overloaded, not
  gone). Requests through an instrumented app must not notice, memory stays bounded, and
  ``shutdown()`` gives up within its own timeout and says so (False).
* ``429`` / ``503`` with ``Retry-After`` (over gRPC: ``RESOURCE_EXHAUSTED`` / ``UNAVAILABLE``
  with a ``RetryInfo``): the OpenTelemetry exporters retry after the delay the collector asked
  for, provided the retry fits within the export deadline (``OTEL_EXPORTER_OTLP_TIMEOUT``); a
  delay past the deadline fails the export at once, without waiting, and otelkit counts it
  (``unavailable``). However often the collector pushes back, an export ends by its deadline.
* ``400`` / ``401`` (gRPC ``INVALID_ARGUMENT`` / ``UNAUTHENTICATED``): never retried (one
  request reaches the collector), counted as ``rejected``.

The collectors are the scripted servers of ``_faults`` on 127.0.0.1; they follow their script
only for exports holding the test's own span, so a span another thread ends meanwhile cannot
add a request.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

import pytest

import otelkit
from tests.reliability._faults import SLOW_ANSWER_S, TEST_SPAN, Answer, retried_after, scripted
from tests.reliability._workload import (
    RSS_GROWTH_MB,
    configure,
    counted_since,
    export_threads,
    hello,
    own_counts,
    wait_for_export_threads,
    workload,
)

if TYPE_CHECKING:
    from collections.abc import Callable

    from tests.fixtures.otlp_receiver import OtlpReceiver

pytestmark = pytest.mark.integration

PROTOCOLS = ("http/protobuf", "grpc")
REQUESTS = 2_500
FAILURES = "otelkit.export.failures"


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_a_slow_collector_adds_no_latency_and_shutdown_keeps_its_timeout(
    protocol: str,
    otlp_http: OtlpReceiver,
    otlp_grpc: OtlpReceiver,
    record_property: Callable[[str, object], None],
) -> None:
    app = otelkit.instrument_app(hello)
    telemetry = configure(protocol, (otlp_grpc if protocol == "grpc" else otlp_http).endpoint)
    healthy = workload(app, REQUESTS)
    telemetry.shutdown(timeout=5)

    earlier = export_threads()
    deadline_s = SLOW_ANSWER_S + 5
    with scripted([Answer(200)], protocol, delay=SLOW_ANSWER_S) as collector:
        # An export deadline longer than the answer: the exporter waits the full 10 s.
        telemetry = configure(protocol, collector.endpoint, timeout_ms=int(deadline_s * 1000))
        slow = workload(app, REQUESTS)
        started = time.monotonic()
        delivered = telemetry.shutdown(timeout=2)
        took = time.monotonic() - started
        hits = len(collector.hits("traces"))
    # The export shutdown gave up on still runs (now against a closed port); it ends by its
    # deadline, and must, or its failure would be counted by the next test in this process.
    still_exporting = wait_for_export_threads(earlier, timeout=deadline_s + 5)

    figures = {"healthy": healthy, "slow": slow, "shutdown_s": took, "trace_exports": hits}
    record_property("figures", figures)
    print(f"\nslow collector, {protocol}: {figures}")
    assert hits >= 1, figures  # the exporter did reach the slow collector
    assert slow["p99_ms"] <= max(3 * healthy["p99_ms"], healthy["p99_ms"] + 5.0), figures
    assert slow["rss_growth_mb"] < RSS_GROWTH_MB, figures
    assert slow["thread_growth"] <= 0, figures  # the collector's own threads left out
    assert delivered is False  # an export was still waiting for its answer
    assert took < 2 + 1.5, figures  # its own timeout, not the collector's 10 s
    assert not still_exporting, still_exporting


def _pushback_telemetry(protocol: str, endpoint: str, timeout_ms: int) -> otelkit.Telemetry:
    return otelkit.init_telemetry(
        service_name="shop",
        metrics_exporters="memory",  # only spans go to the collector under test
        traces_exporters="otlp",
        otlp_protocol=protocol,
        otlp_endpoint=endpoint,
        otlp_timeout=timeout_ms,
    )


def _export_one_span(
    protocol: str, answers: list[Answer], timeout_ms: int
) -> tuple[bool, float, list[float], dict[Any, int]]:
    """Whether the export of one span was delivered, how long the flush took, when the
    collector got each attempt, and the failures otelkit counted for it."""
    with scripted(answers, protocol, only_test_span=True) as collector:
        telemetry = _pushback_telemetry(protocol, collector.endpoint, timeout_ms)
        before = own_counts(telemetry, FAILURES)
        started = time.monotonic()
        with telemetry.tracer.start_as_current_span(TEST_SPAN):
            pass
        delivered = telemetry.force_flush(timeout=10)
        took = time.monotonic() - started
        failures = counted_since(telemetry, FAILURES, before)
        hits = [hit.at for hit in collector.hits("traces")]  # not what shutdown sends later
        gaps = retried_after(collector, "traces")
        telemetry.shutdown(timeout=5)
    print(f"\n{protocol} {answers[0]}: {len(hits)} attempts, retried after {gaps}, {took:.2f} s")
    return delivered, took, hits, failures


@pytest.mark.parametrize("protocol", PROTOCOLS)
@pytest.mark.parametrize("status", [429, 503])
def test_retry_after_is_honoured_within_the_export_deadline(status: int, protocol: str) -> None:
    """The collector asks for 2 s; the exporters' own backoff would be 0.8 to 1.2 s."""
    delivered, _, hits, failures = _export_one_span(
        protocol, [Answer(status, 2.0), Answer(200)], timeout_ms=5000
    )

    assert delivered is True
    assert len(hits) == 2, hits  # refused once, accepted on the retry
    assert 1.9 <= hits[1] - hits[0] <= 3.0, hits[1] - hits[0]
    assert not failures, failures


@pytest.mark.parametrize("protocol", PROTOCOLS)
@pytest.mark.parametrize("status", [429, 503])
def test_retry_after_past_the_deadline_fails_at_once_and_is_counted(
    status: int, protocol: str
) -> None:
    delivered, took, hits, failures = _export_one_span(
        protocol, [Answer(status, 30.0)], timeout_ms=3000
    )

    assert delivered is False
    assert len(hits) == 1, hits  # no retry: 30 s does not fit in the 3 s deadline
    assert took < 3.0, took  # and no waiting for it either
    assert failures == {("traces/otlp", "unavailable"): 1}, failures


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_a_collector_pushing_back_every_time_cannot_stretch_an_export_past_its_deadline(
    protocol: str,
) -> None:
    """One second asked for each time, a 2.5 s deadline: two retries fit, the export fails by
    the deadline instead of the exporters' six attempts (over 5 s of waiting)."""
    delivered, took, hits, failures = _export_one_span(
        protocol, [Answer(503, 1.0)], timeout_ms=2500
    )

    assert delivered is False
    assert len(hits) == 3, hits  # at 0, 1 and 2 s; a fourth would start past the deadline
    assert took < 2.5 + 0.5, took
    assert failures == {("traces/otlp", "unavailable"): 1}, failures


@pytest.mark.parametrize("protocol", PROTOCOLS)
@pytest.mark.parametrize("status", [400, 401])
def test_a_rejected_export_is_not_retried(status: int, protocol: str) -> None:
    delivered, _, hits, failures = _export_one_span(
        protocol, [Answer(status, 1.0)], timeout_ms=5000
    )

    assert delivered is False
    assert len(hits) == 1, hits
    assert failures == {("traces/otlp", "rejected"): 1}, failures
