"""What the tracing tests share."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

import otelkit

if TYPE_CHECKING:
    from collections.abc import Iterator

LIMIT_VARIABLES = (
    "OTEL_ATTRIBUTE_COUNT_LIMIT",
    "OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT",
    "OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT",
    "OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT",
    "OTEL_SPAN_EVENT_COUNT_LIMIT",
    "OTEL_SPAN_LINK_COUNT_LIMIT",
    "OTEL_EVENT_ATTRIBUTE_COUNT_LIMIT",
    "OTEL_LINK_ATTRIBUTE_COUNT_LIMIT",
)


@pytest.fixture(autouse=True)
def _no_limits_from_outside(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test says which span limits it sets."""
    for name in LIMIT_VARIABLES:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def telemetry(monkeypatch: pytest.MonkeyPatch) -> Iterator[otelkit.Telemetry]:
    """Everything in memory; auto-instrumentation off, so each test says what it wants."""
    monkeypatch.delenv("OTELKIT_HTTP_EXCLUDED_URLS", raising=False)
    monkeypatch.delenv("OTELKIT_TRACES_SAMPLER", raising=False)
    monkeypatch.delenv("OTEL_TRACES_SAMPLER", raising=False)
    handle = otelkit.init_telemetry("http-test", exporters="memory", instrument="none")
    yield handle
    handle.shutdown()
