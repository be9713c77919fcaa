"""No URL secret reaches telemetry: userinfo never, sensitive query values only as REDACTED.

A client may send the absolute-form of a request target (``GET http://user:pw@host/p?token=t
HTTP/1.1``); real servers (wsgiref, uvicorn with h11) then hand the whole of it to the app as
the path. Hypothesis generates the credentials; each test sends them to a real server on
loopback and then looks for them in everything otelkit emitted (spans, metric points, log
records, the Prometheus page, the OTLP requests a real receiver decoded, ``caplog``).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, unquote_plus

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from opentelemetry.trace import SpanKind

import otelkit
from otelkit import testing
from otelkit.config._redact import REDACTED, SEMCONV_SENSITIVE_KEYS, redact_query, redact_url
from otelkit.instrumentation.http._url import host_of, path_of
from tests.fixtures.servers import call_wsgi
from tests.reliability._emitted import Emitted, telemetry_everywhere
from tests.reliability._loopback import get, uvicorn_server, wsgi_server

if TYPE_CHECKING:
    from collections.abc import Callable

    from tests.fixtures.otlp_receiver import OtlpReceiver

pytestmark = pytest.mark.integration

MARK = "Zq7"
"""Every generated secret starts with it, so finding one is never a coincidence."""
_TEXT = st.text(alphabet=st.characters(exclude_categories=("Cs", "Cc")), min_size=1, max_size=24)
SECRETS = _TEXT.map(lambda t: MARK + t)
SENSITIVE_KEYS = st.sampled_from(
    [*sorted(SEMCONV_SENSITIVE_KEYS), "token", "access_token", "password", "api_key", "apikey"]
)
HEALTH = [HealthCheck.function_scoped_fixture, HealthCheck.too_slow]


# --- what the helpers do, property-tested --------------------------------------------------


@settings(max_examples=200, deadline=None)
@given(user=SECRETS, password=SECRETS, host=st.from_regex(r"[a-z]{1,10}\.test", fullmatch=True))
def test_the_path_of_an_absolute_form_target_has_no_authority(
    user: str, password: str, host: str
) -> None:
    target = f"http://{quote(user, safe='')}:{quote(password, safe='')}@{host}/items/7"
    assert path_of(target) == "/items/7"
    assert path_of(f"//{quote(user, safe='')}@{host}/x") == "/x"
    assert path_of("/plain/path") == "/plain/path"
    assert path_of("//two/slashes") == "//two/slashes"  # a path, not an authority
    assert host_of(f"{user}:{password}@{host}") == host


@settings(max_examples=200, deadline=None)
@given(key=SENSITIVE_KEYS, value=SECRETS, other=st.from_regex(r"[a-z0-9%]{0,12}", fullmatch=True))
def test_sensitive_query_values_become_redacted_and_keys_stay(
    key: str, value: str, other: str
) -> None:
    query = f"q={other}&{quote(key)}={quote(value, safe='')}&page=2"
    assert redact_query(query) == f"q={other}&{quote(key)}={REDACTED}&page=2"
    url = redact_url(f"https://{quote(value, safe='')}:{quote(value, safe='')}@h.test/p?{query}")
    assert url == f"https://REDACTED:REDACTED@h.test/p?q={other}&{quote(key)}=REDACTED&page=2"


def test_semconv_keys_match_case_sensitively_and_credential_names_in_any_case() -> None:
    assert redact_query("SIG=a&sig=b") == "SIG=a&sig=REDACTED"  # the conventions' own rule
    assert redact_query("Token=a&PASSWORD=b") == "Token=REDACTED&PASSWORD=REDACTED"
    assert redact_query("q=token&page=password") == "q=token&page=password"  # values are not keys
    assert unquote_plus(redact_query("api%5Fkey=a")) == "api_key=REDACTED"


# --- real servers ----------------------------------------------------------------------------


def hello(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"hello"]


async def hello_asgi(scope: dict[str, Any], receive: Any, send: Any) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"hello"})


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("OTELKIT_HTTP_IMPLEMENTATION", "OTELKIT_INSTRUMENT", "OTELKIT_HTTP_EXCLUDED_URLS"):
        monkeypatch.delenv(name, raising=False)


def _absolute_target(user: str, password: str, key: str, token: str) -> str:
    userinfo = f"{quote(user, safe='')}:{quote(password, safe='')}"
    return f"http://{userinfo}@example.test/items?{quote(key)}={quote(token, safe='')}&q=1"


@pytest.mark.parametrize("server", ["wsgiref", "uvicorn-h11"])
def test_no_userinfo_or_query_secret_reaches_any_channel(
    server: str,
    otlp_http: OtlpReceiver,
    caplog: pytest.LogCaptureFixture,
    clean_env: None,
) -> None:
    caplog.set_level(logging.DEBUG)
    telemetry = telemetry_everywhere(otlp_http)
    if server == "wsgiref":
        serving = wsgi_server(otelkit.instrument_app(hello))
    else:
        serving = uvicorn_server(otelkit.instrument_app(hello_asgi))
    port = next(serving)
    sent: list[str] = []

    @settings(max_examples=40, deadline=None, suppress_health_check=HEALTH)
    @given(user=SECRETS, password=SECRETS, key=SENSITIVE_KEYS, token=SECRETS)
    def request_with_credentials(user: str, password: str, key: str, token: str) -> None:
        assert get(port, _absolute_target(user, password, key, token)).split(b" ", 2)[1] == b"200"
        sent.extend((user, password, token))

    try:
        request_with_credentials()
    finally:
        next(serving, None)
    emitted = Emitted.gather(telemetry, otlp_http, caplog.records)
    assert emitted.leaks(sent) == []
    server_spans = [s for s in testing.spans(telemetry) if s.kind is SpanKind.SERVER]
    paths = {(s.attributes or {}).get("url.path") for s in server_spans}
    assert paths == {"/items"}  # the path is still recorded, without its authority
    assert len(sent) >= 3 * 40


def test_a_host_with_userinfo_is_recorded_without_it(clean_env: None) -> None:
    """gunicorn takes ``SERVER_NAME`` from the ``Host`` header: a client may put ``user@`` in."""
    telemetry = otelkit.init_telemetry("secrets-test", exporters="memory", instrument="none")
    app = otelkit.instrument_app(hello)
    environ = {
        "REQUEST_METHOD": "GET",
        "PATH_INFO": "/items",
        "SERVER_NAME": f"{MARK}user:{MARK}pw@example.test",
        "SERVER_PORT": "80",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "wsgi.url_scheme": "http",
    }
    assert call_wsgi(app, environ) == b"hello"
    (span,) = testing.spans(telemetry)
    assert (span.attributes or {})["server.address"] == "example.test"
    assert Emitted.gather(telemetry).leaks([f"{MARK}user", f"{MARK}pw"]) == []


@pytest.mark.parametrize("server", ["wsgiref", "uvicorn-h11"])
def test_contrib_middlewares_record_a_redacted_query_and_a_clean_path(
    server: str, monkeypatch: pytest.MonkeyPatch, clean_env: None
) -> None:
    """The contrib implementation records ``url.query``: sensitive values become REDACTED."""
    monkeypatch.setenv("OTELKIT_HTTP_IMPLEMENTATION", "contrib")
    telemetry = otelkit.init_telemetry("secrets-test", exporters="memory", instrument="none")
    if server == "wsgiref":
        serving = wsgi_server(otelkit.instrument_app(hello))
    else:
        serving = uvicorn_server(otelkit.instrument_app(hello_asgi))
    port = next(serving)
    try:
        target = f"http://me:{MARK}pw@example.test/items?q=shoes&sig={MARK}sig&Token={MARK}t"
        assert get(port, target).split(b" ", 2)[1] == b"200"
    finally:
        next(serving, None)
    (span,) = [s for s in testing.spans(telemetry) if s.kind.name == "SERVER"]
    attributes = span.attributes or {}
    assert attributes["url.path"] == "/items"
    assert attributes["url.query"] == "q=shoes&sig=REDACTED&Token=REDACTED"
    assert Emitted.gather(telemetry).leaks([f"{MARK}pw", f"{MARK}sig", f"{MARK}t"]) == []
