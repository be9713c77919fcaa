"""The wrappers are installed by ``init_telemetry()``, once, and removed by ``shutdown()``;
each call is measured once, whatever library stack makes it; they can be switched off."""

from __future__ import annotations

from typing import TYPE_CHECKING

import httpx
import pytest
import requests
import urllib3
from opentelemetry import context as context_api
from opentelemetry import propagate
from opentelemetry.propagators.textmap import TextMapPropagator

import otelkit
from otelkit import _errors
from otelkit.testing import points, spans
from tests.http_client._clients import LIBRARIES, get

if TYPE_CHECKING:
    from collections.abc import Iterator

    from tests.http_client.conftest import Loopback

DURATION = "http.client.request.duration"
WRAPPED = (
    (httpx.HTTPTransport, "handle_request"),
    (httpx.AsyncHTTPTransport, "handle_async_request"),
    (urllib3.connectionpool.HTTPConnectionPool, "urlopen"),
)


def _calls(telemetry: otelkit.Telemetry) -> int:
    return sum(p.count for p in points(telemetry, DURATION))


def _originals() -> list[object]:
    return [owner.__dict__[name] for owner, name in WRAPPED]


@pytest.fixture
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("OTELKIT_INSTRUMENT", "OTELKIT_HTTP_CLIENT"):
        monkeypatch.delenv(name, raising=False)


def test_requests_is_measured_once_through_urllib3(
    telemetry: otelkit.Telemetry, loopback: Loopback
) -> None:
    """requests sends through urllib3, which is what is wrapped: one call, one measurement and
    one span, the redirect requests follows being a call of its own."""
    requests.get(loopback.url("/status/200"), timeout=5)
    assert (_calls(telemetry), len(spans(telemetry))) == (1, 1)
    requests.get(loopback.url("/redirect"), timeout=5)
    statuses = sorted(
        dict(p.attributes)["http.response.status_code"]
        for p in points(telemetry, DURATION)
        for _ in range(p.count)
    )
    assert statuses == [200, 200, 302]


def test_a_pool_retrying_inside_urlopen_is_one_call(
    telemetry: otelkit.Telemetry, loopback: Loopback
) -> None:
    """A urllib3 pool follows a redirect by calling itself again: the caller's one call is one
    measurement, of the whole."""
    with urllib3.HTTPConnectionPool("127.0.0.1", loopback.port) as pool:
        response = pool.urlopen("GET", "/redirect", redirect=True)
    assert response.status == 200
    (point,) = points(telemetry, DURATION)
    assert point.count == 1
    assert dict(point.attributes)["http.response.status_code"] == 200


def test_in_process_transports_are_not_outgoing_calls(telemetry: otelkit.Telemetry) -> None:
    """httpx's ``MockTransport`` (like ``ASGITransport`` and ``WSGITransport``) sends nothing
    over the network, so nothing is measured."""
    transport = httpx.MockTransport(lambda request: httpx.Response(204))
    with httpx.Client(transport=transport) as client:
        assert client.get("http://example.test/").status_code == 204
    assert _calls(telemetry) == 0


@pytest.mark.usefixtures("clean_environment")
def test_reinit_does_not_wrap_twice(loopback: Loopback) -> None:
    """After shutdown the libraries are as they were; a second configuration wraps them once
    again, so each call is still measured once."""
    originals = _originals()
    first = otelkit.init_telemetry("client-test", exporters="memory", instrument="httpx,urllib3")
    assert _originals() != originals
    first.shutdown()
    assert _originals() == originals
    second = otelkit.init_telemetry("client-test", exporters="memory", instrument="httpx,urllib3")
    try:
        get("httpx", loopback.url())
        get("urllib3", loopback.url())
        assert _calls(second) == 2
        assert len(spans(second)) == 2
    finally:
        second.shutdown()
    assert _originals() == originals


@pytest.mark.usefixtures("clean_environment")
@pytest.mark.parametrize(
    "options", [{"http_client": False}, {"instrument": "asgi,wsgi"}], ids=["off", "not-named"]
)
def test_switched_off_nothing_is_wrapped_or_sent(
    loopback: Loopback, options: dict[str, object]
) -> None:
    """``http_client=False`` (``OTELKIT_HTTP_CLIENT=off``) or an ``OTELKIT_INSTRUMENT`` list
    without the client libraries: no wrapper, no measurement, no trace header."""
    originals = _originals()
    telemetry = otelkit.init_telemetry("client-test", exporters="memory", **options)  # type: ignore[arg-type]
    try:
        assert _originals() == originals
        for library in LIBRARIES:
            get(library, loopback.url())
            assert loopback.last("traceparent") is None
        assert _calls(telemetry) == 0
    finally:
        telemetry.shutdown()


@pytest.mark.usefixtures("clean_environment")
def test_the_environment_switch(loopback: Loopback, monkeypatch: pytest.MonkeyPatch) -> None:
    """``OTELKIT_HTTP_CLIENT=off`` switches the client instrumentation off."""
    monkeypatch.setenv("OTELKIT_HTTP_CLIENT", "off")
    telemetry = otelkit.init_telemetry("client-test", exporters="memory")
    try:
        get("httpx", loopback.url())
        assert _calls(telemetry) == 0
    finally:
        telemetry.shutdown()


def test_without_a_configuration_calls_go_out_untouched(loopback: Loopback) -> None:
    """No configuration running: nothing measured, no header added."""
    get("requests", loopback.url())
    assert loopback.last("traceparent") is None


def test_suppressed_calls_are_not_measured(
    telemetry: otelkit.Telemetry, loopback: Loopback
) -> None:
    """The SDK's exporters suppress instrumentation around their own requests (an OTLP export
    over requests); those calls are neither measured nor traced."""
    key = context_api._SUPPRESS_INSTRUMENTATION_KEY  # the key the SDK's exporters set
    token = context_api.attach(context_api.set_value(key, True))
    try:
        get("requests", loopback.url())
    finally:
        context_api.detach(token)
    assert (_calls(telemetry), len(spans(telemetry))) == (0, 0)


class _BrokenPropagator(TextMapPropagator):
    """A configured propagator that fails on every request."""

    def extract(self, carrier, context=None, getter=None):  # type: ignore[no-untyped-def]
        return context

    def inject(self, carrier, context=None, setter=None):  # type: ignore[no-untyped-def]
        raise RuntimeError("broken propagator")

    @property
    def fields(self) -> set[str]:
        return set()


@pytest.fixture
def broken_propagator() -> Iterator[None]:
    before = propagate.get_global_textmap()
    propagate.set_global_textmap(_BrokenPropagator())
    _errors.raise_internal_errors(False)  # as in production: count, never raise
    try:
        yield
    finally:
        _errors.raise_internal_errors(True)
        propagate.set_global_textmap(before)


@pytest.mark.usefixtures("broken_propagator")
@pytest.mark.parametrize("library", LIBRARIES)
def test_a_failure_on_the_request_path_never_reaches_the_caller(
    telemetry: otelkit.Telemetry, loopback: Loopback, library: str
) -> None:
    """The trace headers cannot be added: the call still goes out and is measured, and the
    failure is counted as an internal error of ``http_client``."""
    before = _errors.internal_error_count("http_client")
    assert get(library, loopback.url()) == 200
    assert _errors.internal_error_count("http_client") == before + 1
    assert _calls(telemetry) == 1


def test_the_callers_headers_are_left_as_they_were(
    telemetry: otelkit.Telemetry, loopback: Loopback
) -> None:
    """The trace headers go into a copy: the mapping the caller passed is not changed."""
    headers = {"X-Order": "1"}
    with urllib3.PoolManager() as pool:
        pool.request("GET", loopback.url(), headers=headers)
    assert headers == {"X-Order": "1"}
    assert loopback.last("x-order") == "1"
    assert loopback.last("traceparent") is not None
