"""What the in-process HTTP tests share."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

import otelkit

if TYPE_CHECKING:
    from collections.abc import Iterator

_HTTP_VARIABLES = (
    "OTELKIT_HTTP_EXCLUDED_URLS",
    "OTELKIT_HTTP_BODY_SIZE",
    "OTELKIT_HTTP_IMPLEMENTATION",
    "OTELKIT_INSTRUMENT",
)


@pytest.fixture
def telemetry(monkeypatch: pytest.MonkeyPatch) -> Iterator[otelkit.Telemetry]:
    """Everything in memory; auto-instrumentation off, so each test says what it wants."""
    for name in _HTTP_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    handle = otelkit.init_telemetry("http-test", exporters="memory", instrument="none")
    yield handle
    handle.shutdown()
