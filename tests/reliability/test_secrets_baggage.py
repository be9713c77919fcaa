"""A client's ``baggage`` header is never echoed: not into attributes, not into log lines.

otelkit extracts incoming baggage into the request's context (the app may read it) and copies
none of it into span or metric attributes. The W3C propagator logs a warning for an oversized
or malformed header quoting it; otelkit's filter on that logger keeps the warning and replaces
the quoted content by its length (200 requests with a 60 KB header once wrote 12 MB of log).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from opentelemetry import baggage

import otelkit
from tests.fixtures.servers import call_wsgi
from tests.reliability._emitted import Emitted, telemetry_everywhere
from tests.reliability._loopback import get, wsgi_server

if TYPE_CHECKING:
    from collections.abc import Callable

    from tests.fixtures.otlp_receiver import OtlpReceiver

pytestmark = pytest.mark.integration

MARK = "Zq7"
VALUES = st.text(alphabet=st.characters(exclude_categories=("Cs",)), min_size=1, max_size=30).map(
    lambda t: MARK + t
)
HEALTH = [HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
SEEN: list[dict[str, object]] = []


@otelkit.timed("checkout.duration")
def checkout() -> None:
    otelkit.record("checkout.items", 3.0, tier="gold")
    logging.getLogger("shop").warning("checked out")


def shop(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
    SEEN.append(dict(baggage.get_all()))  # the app does receive the baggage
    checkout()
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"ok"]


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("OTELKIT_HTTP_IMPLEMENTATION", "OTELKIT_INSTRUMENT", "OTELKIT_HTTP_EXCLUDED_URLS"):
        monkeypatch.delenv(name, raising=False)


def test_baggage_values_reach_the_app_and_no_attribute(
    otlp_http: OtlpReceiver, caplog: pytest.LogCaptureFixture, clean_env: None
) -> None:
    caplog.set_level(logging.DEBUG)
    telemetry = telemetry_everywhere(otlp_http)
    serving = wsgi_server(otelkit.instrument_app(shop))
    port = next(serving)
    sent: list[str] = []
    SEEN.clear()

    @settings(max_examples=40, deadline=None, suppress_health_check=HEALTH)
    @given(user=VALUES, session=VALUES)
    def request_with_baggage(user: str, session: str) -> None:
        header = f"Baggage: user.id={quote(user, safe='')},session={quote(session, safe='')}\r\n"
        assert get(port, "/checkout", header).split(b" ", 2)[1] == b"200"
        assert SEEN[-1] == {"user.id": user.strip(), "session": session.strip()}
        sent.extend((user, session))

    try:
        request_with_baggage()
    finally:
        next(serving, None)
    assert Emitted.gather(telemetry, otlp_http, caplog.records).leaks(sent) == []


@settings(max_examples=30, deadline=None, suppress_health_check=HEALTH)
@given(content=VALUES, size=st.integers(9_000, 60_000))
def test_an_oversized_or_malformed_baggage_header_is_never_logged(
    content: str, size: int, caplog: pytest.LogCaptureFixture, clean_env: None
) -> None:
    caplog.clear()
    telemetry = otelkit.init_telemetry("baggage", exporters="memory", instrument="none")
    app = otelkit.instrument_app(shop)
    safe = quote(content, safe="")
    headers = [
        "k=" + (safe * (size // len(safe) + 1))[:size],  # over the 8192-byte limit
        f"{safe} {safe}",  # not key=value
        f"k={safe};{safe}=;{safe}",  # invalid properties
    ]
    try:
        for header in headers:
            environ = {"REQUEST_METHOD": "GET", "PATH_INFO": "/", "HTTP_BAGGAGE": header}
            with caplog.at_level(logging.DEBUG):
                call_wsgi(app, environ)
    finally:
        telemetry.shutdown()
    warnings = [r for r in caplog.records if r.name == "opentelemetry.baggage.propagation"]
    assert warnings, "the propagator still says what it dropped"
    assert all(len(r.getMessage()) < 200 for r in warnings)
    assert (
        Emitted(channels={"log": [r.getMessage() for r in caplog.records]}).leaks([content, safe])
        == []
    )
