"""X-Ray: trace ids with the start time, and the X-Amzn-Trace-Id propagator."""

from __future__ import annotations

import time

from opentelemetry import trace
from opentelemetry.propagators.composite import CompositePropagator
from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags
from otelkit_cloudwatch import CloudWatchPlugin
from otelkit_cloudwatch._xray import HEADER, XRayIdGenerator, XRayPropagator


def test_trace_ids_start_with_the_epoch_second() -> None:
    before = int(time.time())
    trace_id = XRayIdGenerator().generate_trace_id()
    assert before <= trace_id >> 96 <= int(time.time())
    assert XRayIdGenerator().generate_span_id() > 0


def test_the_plugin_gives_the_tracer_provider_xray_ids() -> None:
    assert isinstance(
        CloudWatchPlugin.id_generator(CloudWatchPlugin.__new__(CloudWatchPlugin)), XRayIdGenerator
    )


def test_the_header_round_trips() -> None:
    context = SpanContext(
        trace_id=0x5759E988BD862E3FE1BE46A994272793,
        span_id=0x53995C3F42CD8AD8,
        is_remote=False,
        trace_flags=TraceFlags(TraceFlags.SAMPLED),
    )
    carrier: dict[str, str] = {}
    XRayPropagator().inject(carrier, trace.set_span_in_context(NonRecordingSpan(context)))
    assert (
        carrier[HEADER]
        == "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"
    )
    extracted = trace.get_current_span(XRayPropagator().extract(carrier)).get_span_context()
    assert (extracted.trace_id, extracted.span_id) == (context.trace_id, context.span_id)
    assert extracted.trace_flags.sampled
    assert extracted.is_remote


def test_malformed_headers_are_ignored() -> None:
    for value in (
        "",
        "Root=1-xyz",
        "Parent=53995c3f42cd8ad8",
        "Root=1-00000000-000000000000000000000000;Parent=0000000000000000",
    ):
        context = XRayPropagator().extract({HEADER: value})
        assert not trace.get_current_span(context).get_span_context().is_valid


def test_otel_propagators_can_name_xray() -> None:
    """Registered as the `xray` propagator entry point, usable in OTEL_PROPAGATORS."""
    from importlib.metadata import entry_points

    (point,) = entry_points(group="opentelemetry_propagator", name="xray")
    propagator = CompositePropagator([point.load()()])
    carrier = {HEADER: "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=0"}
    span_context = trace.get_current_span(propagator.extract(carrier)).get_span_context()
    assert span_context.span_id == 0x53995C3F42CD8AD8
    assert not span_context.trace_flags.sampled
