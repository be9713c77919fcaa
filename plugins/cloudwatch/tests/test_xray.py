"""X-Ray: trace ids with the start time, and the X-Amzn-Trace-Id propagator, both from the
maintained packages (opentelemetry-sdk-extension-aws, opentelemetry-propagator-aws-xray)."""

from __future__ import annotations

import time
from importlib.metadata import entry_points

from opentelemetry import trace
from opentelemetry.propagators.aws import AwsXRayPropagator
from opentelemetry.propagators.composite import CompositePropagator
from opentelemetry.sdk.extension.aws.trace import AwsXRayIdGenerator
from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags
from otelkit_cloudwatch import CloudWatchPlugin

HEADER = "X-Amzn-Trace-Id"


def test_the_plugin_gives_the_tracer_provider_xray_ids() -> None:
    generator = CloudWatchPlugin.id_generator(CloudWatchPlugin.__new__(CloudWatchPlugin))
    assert isinstance(generator, AwsXRayIdGenerator)
    before = int(time.time())
    assert before <= generator.generate_trace_id() >> 96 <= int(time.time())


def test_xray_names_the_maintained_propagator_only() -> None:
    """One `xray` propagator entry point, opentelemetry-propagator-aws-xray's: the plugin no
    longer registers its own under the same name."""
    (point,) = entry_points(group="opentelemetry_propagator", name="xray")
    assert point.dist is not None
    assert point.dist.name == "opentelemetry-propagator-aws-xray"
    assert point.load() is AwsXRayPropagator


def test_the_header_round_trips_through_otel_propagators() -> None:
    (point,) = entry_points(group="opentelemetry_propagator", name="xray")
    propagator = CompositePropagator([point.load()()])
    context = SpanContext(
        trace_id=0x5759E988BD862E3FE1BE46A994272793,
        span_id=0x53995C3F42CD8AD8,
        is_remote=False,
        trace_flags=TraceFlags(TraceFlags.SAMPLED),
    )
    carrier: dict[str, str] = {}
    propagator.inject(carrier, trace.set_span_in_context(NonRecordingSpan(context)))
    assert carrier[HEADER] == (
        "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"
    )
    extracted = trace.get_current_span(propagator.extract(carrier)).get_span_context()
    assert (extracted.trace_id, extracted.span_id) == (context.trace_id, context.span_id)
    assert extracted.trace_flags.sampled
    assert extracted.is_remote
