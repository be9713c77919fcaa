"""Test-suite wiring: real-server fixtures, strict internal errors, no telemetry left running."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from otelkit import _active, _errors

if TYPE_CHECKING:
    from collections.abc import Iterator

pytest_plugins = [
    "tests.fixtures.prometheus",
    "tests.fixtures.otlp_receiver",
    "tests.fixtures.postgres",
    "tests.fixtures.redis",
]


@pytest.fixture(autouse=True, scope="session")
def _raise_internal_errors() -> Iterator[None]:
    """In our own suite, an error on the telemetry path fails the test instead of being logged."""
    _errors.raise_internal_errors(True)
    yield
    _errors.raise_internal_errors(False)


@pytest.fixture(autouse=True)
def _no_telemetry_left_running() -> Iterator[None]:
    """Each test starts without an active configuration and leaves none behind."""
    yield
    active = _active.current()
    if active is not None:
        active.shutdown(timeout=5)


@pytest.fixture(autouse=True)
def _no_span_left_current() -> Iterator[None]:
    """Each test leaves no span current on the main thread: a leaked context would become the
    parent of every later test's spans (and put its trace id on their log records)."""
    from opentelemetry import trace

    yield
    span = trace.get_current_span()
    assert not span.get_span_context().is_valid, f"a span was left current: {span!r}"
