"""A publish inside a context that suppressed instrumentation gets no PRODUCER span, as the
OpenTelemetry convention asks (the SDK's exporters, a test's own traffic)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from celery import Celery

import otelkit
from otelkit import testing
from tests.fixtures.servers import untraced

if TYPE_CHECKING:
    from collections.abc import Iterator

import pytest


@pytest.fixture
def telemetry() -> Iterator[otelkit.Telemetry]:
    handle = otelkit.init_telemetry("publisher", exporters="memory", instrument="celery")
    yield handle
    handle.shutdown()


def test_a_suppressed_publish_has_no_producer_span(telemetry: otelkit.Telemetry) -> None:
    app = Celery("probe", broker="memory://", set_as_current=False)
    otelkit.instrument_celery(app)
    with untraced():
        app.send_task("probe.quiet")
    app.send_task("probe.heard")
    telemetry.force_flush()
    names = [span.name for span in testing.spans(telemetry)]
    assert names == ["send probe.heard"]
