"""No verb ever prints a credential: tokens, OTLP header values, URL passwords, SMTP passwords
and webhook URLs are masked in tables, JSON and error messages alike.

Every verb registers the configuration's secrets before it prints anything (as
``init_telemetry()`` does) and prints every message through ``config._redact``: a secret is
masked wherever it appears, in an error about another variable too. A setting declared secret
shows as ``***`` in the settings table; URLs and messages show credentials as ``REDACTED``.
"""

from __future__ import annotations

import string

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from otelkit.runtime._announce import summary
from otelkit.runtime._failures import report_for
from otelkit.runtime._load import instantiate, load_settings
from tests.cli.conftest import json_of, run_otelkit
from tests.fixtures.servers import free_port

# Long enough that it cannot appear in the output by coincidence.
secrets = st.text(alphabet=string.ascii_letters + string.digits, min_size=16, max_size=40)
# Each example runs the command several times: no shrinking (a failing example is shown as is).
PHASES = (Phase.explicit, Phase.reuse, Phase.generate)
SLOW = [HealthCheck.too_slow]
VERBS = (("doctor",), ("doctor", "-o", "json"), ("config",), ("config", "-o", "json"))
ALERTS = (("alerts", "test"), ("alerts", "test", "-o", "json"))


def configuration_with(token: str, password: str, key: str) -> dict[str, str]:
    closed = free_port()  # nothing listens: doctor's probes fail and say so
    return {
        "OTEL_METRICS_EXPORTER": "otlp,prometheus",
        "OTEL_EXPORTER_PROMETHEUS_PORT": str(free_port()),
        "OTELKIT_PROMETHEUS_TOKEN": token,
        "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://collector:{password}@127.0.0.1:{closed}",
        "OTEL_EXPORTER_OTLP_HEADERS": f"api-key={key},x-tenant=shop",
        "OTELKIT_ALERT_WEBHOOK_URL": f"http://127.0.0.1:{closed}/hooks/{key}",
        "OTELKIT_ALERT_WEBHOOK_RETRIES": "0",
        "OTELKIT_ALERT_SMTP_HOST": "127.0.0.1",
        "OTELKIT_ALERT_SMTP_PORT": str(closed),
        "OTELKIT_ALERT_SMTP_USER": "alerts",
        "OTELKIT_ALERT_SMTP_PASSWORD": password,
        "OTELKIT_ALERT_SMTP_TO": "ops@example.com",
        # misspelt: doctor names the variable, never its value
        "OTEL_EXPORTER_OTLP_HEADER": f"api-key={token}",
    }


@settings(max_examples=4, deadline=None, phases=PHASES, suppress_health_check=SLOW)
@given(token=secrets, password=secrets, key=secrets)
def test_a_valid_configuration_never_shows_its_secrets(token: str, password: str, key: str) -> None:
    environment = configuration_with(token, password, key)
    for verb in (*VERBS, *ALERTS):
        result = run_otelkit(*verb, env=environment)
        shown = result.stdout + result.stderr
        assert result.returncode in (0, 1), shown
        for secret in (token, password, key):
            assert secret not in shown, verb
    assert "***" in run_otelkit("config", env=environment).stdout


@settings(max_examples=3, deadline=None, phases=PHASES, suppress_health_check=SLOW)
@given(token=secrets, password=secrets)
def test_a_broken_configuration_never_shows_its_secrets(token: str, password: str) -> None:
    """A ConfigError about a secret setting masks its value too."""
    environment = {
        "OTELKIT_PROMETHEUS_TOKEN": f"{token} {password}",  # whitespace: not valid
        "OTEL_EXPORTER_PROMETHEUS_PORT": str(free_port()),
    }
    for verb in VERBS:
        result = run_otelkit(*verb, env=environment)
        shown = result.stdout + result.stderr
        assert result.returncode == 2, shown
        assert "OTELKIT_PROMETHEUS_TOKEN" in shown
        assert token not in shown
        assert password not in shown


@settings(max_examples=3, deadline=None, phases=PHASES, suppress_health_check=SLOW)
@given(header=secrets, password=secrets, key=secrets)
def test_secrets_quoted_in_an_error_about_another_variable_are_masked(
    header: str, password: str, key: str
) -> None:
    """A header value, a userinfo password and a webhook URL without its scheme, quoted by the
    ConfigError of another variable: every verb masks them, ``otelkit run`` included."""
    closed = free_port()
    webhook = f"http://127.0.0.1:{closed}/hooks/{key}"
    environment = {
        "OTEL_METRICS_EXPORTER": "otlp",
        "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://collector:{password}@127.0.0.1:{closed}",
        "OTEL_EXPORTER_OTLP_HEADERS": f"api-key={header}",
        "OTELKIT_ALERT_WEBHOOK_URL": webhook,
        # not an address: its error quotes the value, secrets and all
        "OTELKIT_ALERT_SMTP_TO": f"{password}-{header}-{webhook.removeprefix('http://')}",
    }
    for verb in (*VERBS, *ALERTS, ("run", "--", "true")):
        result = run_otelkit(*verb, env=environment)
        shown = result.stdout + result.stderr
        assert result.returncode == 2, (verb, shown)
        assert "OTELKIT_ALERT_SMTP_TO" in shown
        for secret in (header, password, key):
            assert secret not in shown, (verb, shown)


@settings(max_examples=2, deadline=None, phases=PHASES, suppress_health_check=SLOW)
@given(password=secrets, token=secrets)
def test_a_url_given_to_scrape_or_health_keeps_its_credentials(password: str, token: str) -> None:
    url = f"http://reader:{password}@127.0.0.1:{free_port()}/metrics?token={token}"
    for verb in (("scrape", "--interval", "0.1"), ("health",)):
        for output in ("text", "json"):
            result = run_otelkit(*verb, url, "-o", output)
            shown = result.stdout + result.stderr
            assert result.returncode == 1, shown
            assert "REDACTED:REDACTED@127.0.0.1" in shown
            assert password not in shown
            assert token not in shown


def test_doctor_shows_an_endpoint_as_the_start_up_line_and_the_failure_warning_do() -> None:
    environment = {
        "OTEL_METRICS_EXPORTER": "otlp",
        "OTEL_EXPORTER_OTLP_ENDPOINT": (
            f"http://shop:pa55w0rd@127.0.0.1:{free_port()}?tenant=eu&token=t0ken-t0ken"
        ),
    }
    loaded = load_settings({}, environment)
    plugins = instantiate(loaded)
    _level, line = summary(loaded.settings, plugins)
    warned = report_for(plugins["otlp"], "metrics", "metric points").where

    report = json_of(run_otelkit("doctor", "-o", "json", env=environment))

    (finding,) = [f for f in report["findings"] if f["check"] == "otlp metrics"]
    assert "/v1/metrics?tenant=eu&token=REDACTED" in warned
    assert f"to OTLP http/protobuf {warned}" in line
    assert finding["detail"].startswith(f"{warned} (http/protobuf): ")
