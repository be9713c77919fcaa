"""The OTLP endpoint's credentials and the export headers never reach a log, a repr or an error.

Hypothesis generates the credentials: a user and password in the endpoint's userinfo, a token
in its query, ``Authorization`` and ``api-key`` header values. Every log record is captured at
DEBUG: otelkit's own (the configuration line, the start-up summary, flush warnings), the
OpenTelemetry exporters' (their retry warnings quote the request URL, gRPC's the endpoint) and
urllib3's, while a real export fails against an endpoint nobody listens on.
"""

from __future__ import annotations

import logging
import time
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import otelkit
from otelkit import ConfigError
from otelkit.config._redact import RedactingFilter, protect, redact_text, register
from tests.fixtures.servers import free_port
from tests.reliability._emitted import Emitted

pytestmark = pytest.mark.integration

MARK = "Zq7"
_TEXT = st.text(alphabet=st.characters(exclude_categories=("Cs", "Cc")), min_size=1, max_size=20)
SECRETS = _TEXT.map(lambda t: MARK + t)
TOKENS = st.text(
    alphabet=st.characters(min_codepoint=0x21, max_codepoint=0x7E, exclude_characters=",="),
    min_size=4,
    max_size=30,
).map(lambda t: MARK + t)
"""Header values: visible ASCII (what an HTTP header can carry), no ``,``/``=`` (the list's own
separators: percent-encoded in the variable, which the parser decodes)."""
HEALTH = [HealthCheck.function_scoped_fixture, HealthCheck.too_slow]


@pytest.fixture
def otlp_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in ("OTELKIT_INSTRUMENT", "OTEL_EXPORTER_OTLP_PROTOCOL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("OTELKIT_INSTRUMENT", "none")
    return monkeypatch


def endpoint(user: str, password: str, token: str, port: int) -> str:
    userinfo = f"{quote(user, safe='')}:{quote(password, safe='')}"
    return f"http://{userinfo}@127.0.0.1:{port}/collector?token={quote(token, safe='')}&v=1"


def headers(authorization: str, api_key: str) -> str:
    return f"Authorization=Bearer%20{quote(authorization, safe='')},api-key={quote(api_key)}"


@pytest.mark.parametrize("protocol", ["http/protobuf", "grpc"])
def test_a_failed_export_to_an_endpoint_with_credentials_logs_none_of_them(
    protocol: str, otlp_env: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    secrets: list[str] = []
    failures = 0

    @settings(max_examples=6, deadline=None, suppress_health_check=HEALTH)
    @given(user=SECRETS, password=SECRETS, token=SECRETS, auth=TOKENS, api_key=TOKENS)
    def export_and_fail(user: str, password: str, token: str, auth: str, api_key: str) -> None:
        nonlocal failures
        otlp_env.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint(user, password, token, free_port()))
        otlp_env.setenv("OTEL_EXPORTER_OTLP_HEADERS", headers(auth, api_key))
        otlp_env.setenv("OTEL_EXPORTER_OTLP_PROTOCOL", protocol)
        otlp_env.setenv("OTEL_EXPORTER_OTLP_TIMEOUT", "1500")  # one retry, then give up
        telemetry = otelkit.init_telemetry("otlp-secrets", exporters="otlp")
        try:
            with telemetry.tracer.start_as_current_span("work"):
                otelkit.record("work.done", 1.0)
                logging.getLogger("app").warning("app log line")
            assert repr(telemetry.settings).count("REDACTED") >= 3
            failures += not telemetry.force_flush(timeout=5)
        finally:
            telemetry.shutdown(timeout=5)
        secrets.extend((user, password, token, auth, api_key))

    export_and_fail()
    assert failures == 6  # every export really failed, so the SDK had something to say
    about_the_endpoint = [
        r for r in caplog.records if r.levelno >= logging.WARNING and "127.0.0.1:" in r.getMessage()
    ]  # the SDK's warnings (or otelkit's summary quoting them) name where the export went
    assert any("Failed to export" in r.getMessage() for r in about_the_endpoint)
    assert Emitted(channels={"log record": [*map(_format, caplog.records)]}).leaks(secrets) == []


def _format(record: logging.LogRecord) -> str:
    formatter = logging.Formatter("%(name)s %(levelname)s %(message)s")
    return formatter.format(record) + (record.exc_text or "")


@settings(max_examples=40, deadline=None, suppress_health_check=HEALTH)
@given(
    user=SECRETS,
    password=SECRETS,
    token=SECRETS,
    wrong=st.sampled_from(["ftp://{}@host/", "http://{}@host:port/", "http://{}@/"]),
)
def test_a_rejected_endpoint_is_quoted_without_its_credentials(
    user: str, password: str, token: str, wrong: str, otlp_env: pytest.MonkeyPatch
) -> None:
    userinfo = f"{quote(user, safe='')}:{quote(password, safe='')}"
    value = wrong.format(userinfo) + f"?token={quote(token, safe='')}"
    for variable in ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"):
        otlp_env.setenv(variable, value)
        with pytest.raises(ConfigError) as error:
            otelkit.init_telemetry("otlp-secrets", exporters="otlp")
        otlp_env.delenv(variable)
        message = str(error.value)
        assert variable in message  # the error still names what to fix
        assert "REDACTED" in message
        assert Emitted(channels={"error": [message]}).leaks([user, password, token]) == []
    with pytest.raises(ConfigError) as error:
        otelkit.init_telemetry("otlp-secrets", exporters="otlp", otlp_endpoint=value)
    assert Emitted(channels={"error": [str(error.value)]}).leaks([user, password, token]) == []


@settings(max_examples=100, deadline=None, suppress_health_check=HEALTH)
@given(value=TOKENS)
def test_a_malformed_header_list_is_never_quoted(value: str, otlp_env: pytest.MonkeyPatch) -> None:
    otlp_env.setenv("OTEL_EXPORTER_OTLP_HEADERS", f"Authorization {value}")
    with pytest.raises(ConfigError) as error:
        otelkit.init_telemetry("otlp-secrets", exporters="otlp")
    assert "OTEL_EXPORTER_OTLP_HEADERS" in str(error.value)
    assert value not in str(error.value)
    assert "('***') is not key=value" in str(error.value)


def test_the_filter_masks_registered_values_userinfo_and_sensitive_query_values() -> None:
    """The three layers, on the shapes the SDK and urllib3 write."""
    register(["hdr-Zq7-value"])
    grpc = "exporting traces to me:Zq7pw@127.0.0.1:9, retrying"
    urllib3 = "Max retries exceeded with url: /v1/traces?token=Zq7tok&v=1 (Caused by ...)"
    assert redact_text(grpc) == "exporting traces to REDACTED:REDACTED@127.0.0.1:9, retrying"
    assert redact_text(urllib3) == (
        "Max retries exceeded with url: /v1/traces?token=REDACTED&v=1 (Caused by ...)"
    )
    assert redact_text("sent hdr-Zq7-value") == "sent REDACTED"
    assert redact_text("mail bob@example.com at 10:30") == "mail bob@example.com at 10:30"
    record = logging.LogRecord("x", logging.ERROR, __file__, 1, "to %s", ("a:Zq7b@h",), None)
    assert RedactingFilter().filter(record)
    assert record.getMessage() == "to REDACTED:REDACTED@h"


def test_masking_stays_linear_on_hostile_text() -> None:
    """A record may quote a client's data: 100 KB shaped to make naive patterns backtrack for
    minutes is masked in well under a second each (quadratic patterns took 10-17 s)."""
    hostile = [
        "a" * 100_000,
        "!a" * 50_000,
        "&a" * 50_000,
        "(a:" * 33_000,
        "?" + "k" * 100_000,
        "http://" + "a" * 100_000,
        "(" + "a:" * 50_000,
        "x:y@z " * 20_000,
    ]
    started = time.perf_counter()
    for text in hostile:
        redact_text(text)
    assert time.perf_counter() - started < 3.0


def test_a_traceback_that_quotes_a_credential_is_replaced_by_its_redacted_text(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The SDK's batch processors log an exporter's exception with its traceback."""
    logger = logging.getLogger("opentelemetry.sdk._shared_internal")
    protect()  # what init_telemetry() does first
    try:
        raise ConnectionError("cannot reach https://me:Zq7tb-secret@collector.test/v1/traces")
    except ConnectionError:
        with caplog.at_level(logging.ERROR, logger=logger.name):
            logger.exception("Exception while exporting Span.")
    (record,) = [r for r in caplog.records if r.name == logger.name]
    assert record.exc_info is None
    assert "Zq7tb-secret" not in (record.exc_text or "")
    assert "https://REDACTED:REDACTED@collector.test/v1/traces" in (record.exc_text or "")
    assert "Zq7tb-secret" not in caplog.text
