"""Routing by severity, the log channel without any logging set up, and rules that read nothing.

Routing runs against real peers: two loopback webhook receivers (a pager and a team channel)
and a real aiosmtpd server. Alerts come from the engine itself (rules over hand-made data), so
what is checked is the whole path: settings → channels → dispatch → the wire.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from typing import TYPE_CHECKING

import pytest
from hypothesis import given
from hypothesis import strategies as st

import otelkit
from otelkit._errors import ConfigError
from otelkit.alerting._engine import AlertEngine
from otelkit.alerting._rules import AlertRule
from otelkit.config._alerting import load_alert_settings
from otelkit.runtime._alerting import known_metric_names
from tests.alerting._data import gauge, snapshot
from tests.alerting.conftest import WebhookReceiver

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from tests.alerting.conftest import SmtpServer

pytestmark = pytest.mark.integration

RULES = [
    AlertRule("DiskFull", "orders.disk", 0.9, severity="critical"),
    AlertRule("DiskFilling", "orders.disk", 0.7, severity="warning"),
    AlertRule("DiskNote", "orders.disk", 0.5, severity="info"),
]


@pytest.fixture
def pager() -> Iterator[WebhookReceiver]:
    receiver = WebhookReceiver()
    yield receiver
    receiver.close()


def _fire(settings_source: dict[str, object], *, env: bool) -> AlertEngine:
    settings = (
        load_alert_settings(environ={k: str(v) for k, v in settings_source.items()})
        if env
        else load_alert_settings(keywords=settings_source)
    )
    engine = AlertEngine(settings, rules=RULES)
    engine.dispatch(engine.evaluate(100.0, snapshot(gauge("orders.disk", ({}, 0.95)))))
    assert engine.drain(10)
    return engine


@pytest.mark.parametrize("env", [True, False], ids=["environment", "keywords"])
def test_critical_pages_and_mails_on_call_while_warnings_go_to_the_team_channel(
    env: bool, pager: WebhookReceiver, webhook: WebhookReceiver, smtp_server: SmtpServer
) -> None:
    """critical → pager webhook + on-call e-mail; warning and info → team webhook, no e-mail."""
    names = {
        "alert_webhook_url_critical": pager.url,
        "alert_webhook_url": webhook.url,
        "alert_smtp_host": smtp_server.host,
        "alert_smtp_port": smtp_server.port,
        "alert_smtp_to_critical": "oncall@example.com",
        "alert_webhook_retries": 0,
    }
    source = {("OTELKIT_" + k.upper()): v for k, v in names.items()} if env else names
    engine = _fire(source, env=env)
    assert [p.body["alertname"] for p in pager.wait_for(1)] == ["DiskFull"]
    team = sorted(p.body["alertname"] for p in webhook.wait_for(2))
    assert team == ["DiskFilling", "DiskNote"]
    ((_, recipients, message),) = smtp_server.mailbox.wait_for(1)
    assert recipients == ["oncall@example.com"]
    assert message["Subject"].startswith("[FIRING] DiskFull (critical)")
    time.sleep(0.2)  # nothing else arrives
    assert len(pager.received) == 1
    assert len(webhook.received) == 2
    assert len(smtp_server.mailbox.messages) == 1
    counts = engine.delivery_counts()
    assert counts[("webhook", "sent")] == 3
    assert counts[("smtp", "sent")] == 1


def test_default_recipients_serve_the_severities_without_their_own(
    smtp_server: SmtpServer,
) -> None:
    """``none`` keeps warnings out of the mailbox; info falls back to the default list."""
    _fire(
        {
            "OTELKIT_ALERT_SMTP_HOST": smtp_server.host,
            "OTELKIT_ALERT_SMTP_PORT": smtp_server.port,
            "OTELKIT_ALERT_SMTP_TO": "team@example.com",
            "OTELKIT_ALERT_SMTP_TO_CRITICAL": "oncall@example.com,lead@example.com",
            "OTELKIT_ALERT_SMTP_TO_WARNING": "none",
        },
        env=True,
    )
    messages = smtp_server.mailbox.wait_for(2)
    by_subject = {m["Subject"].split(" ")[1]: sorted(r) for _, r, m in messages}
    assert by_subject == {
        "DiskFull": ["lead@example.com", "oncall@example.com"],
        "DiskNote": ["team@example.com"],
    }


def test_a_severity_webhook_alone_turns_alerting_on() -> None:
    settings = load_alert_settings(
        environ={"OTELKIT_ALERT_WEBHOOK_URL_CRITICAL": "https://pager.example/hook"}
    )
    assert settings.alerts is True
    assert set(settings.webhook_routes()) == {"critical"}


def test_smtp_needs_some_recipients_and_says_which_variables() -> None:
    settings = load_alert_settings(environ={"OTELKIT_ALERT_SMTP_HOST": "mail.example.com"})
    with pytest.raises(ConfigError, match="OTELKIT_ALERT_SMTP_TO_CRITICAL"):
        AlertEngine(settings)


@given(st.text(min_size=1).filter(lambda s: s.strip() and "://" not in s))
def test_a_bad_severity_webhook_names_its_variable_and_hides_the_value(value: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_alert_settings(environ={"OTELKIT_ALERT_WEBHOOK_URL_WARNING": value})
    message = str(caught.value)
    assert "OTELKIT_ALERT_WEBHOOK_URL_WARNING='***'" in message
    assert "Accepted:" in message


NOT_AN_ADDRESS = st.text(
    alphabet=st.characters(blacklist_characters="@,", blacklist_categories=("Cs",)), min_size=1
).filter(lambda s: s.strip() and s.strip().lower() != "none")


@given(st.sampled_from(["CRITICAL", "WARNING", "INFO"]), NOT_AN_ADDRESS)
def test_bad_severity_recipients_name_their_variable(severity: str, value: str) -> None:
    variable = f"OTELKIT_ALERT_SMTP_TO_{severity}"
    with pytest.raises(ConfigError, match=variable):
        load_alert_settings(environ={variable: value})


SCRIPT = """
import logging, sys
from otelkit.alerting._channels import LogChannel
from otelkit.alerting._rules import AlertRule
from otelkit.alerting._alert import Alert

rule = AlertRule("QueueBacklog", "orders.queue.depth", 100, severity="warning")
channel = LogChannel()
if sys.argv[1] == "configured":
    logging.basicConfig(format="app: %(message)s", level=logging.INFO)
channel.send(Alert(rule, "firing", {}, 250.0, 0.0))
channel.send(Alert(rule, "resolved", {}, 3.0, 0.0))
"""


@pytest.mark.parametrize("setup", ["bare", "configured"])
def test_the_log_channel_shows_firing_and_resolved_alerts_once_without_setup(setup: str) -> None:
    """No logging configured: both lines on stderr. Configured: the application's handler
    writes them, and otelkit's own stays silent (no line twice)."""
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(SCRIPT), setup],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "PYTHONWARNINGS": "ignore"},
        check=True,
    )
    lines = [line for line in done.stderr.splitlines() if "QueueBacklog" in line]
    assert len(lines) == 2, done.stderr
    assert "[FIRING] QueueBacklog (warning)" in lines[0]
    assert "[RESOLVED] QueueBacklog (warning)" in lines[1]
    if setup == "configured":
        assert all(line.startswith("app: ") for line in lines)
    else:
        assert "WARNING otelkit.alerts" in lines[0]
        assert "INFO otelkit.alerts" in lines[1]


def test_rules_reading_a_metric_nothing_emits_are_named_with_the_metric() -> None:
    """The catalog knows otelkit's metrics in both spellings; a typo is reported."""
    engine = AlertEngine(
        load_alert_settings(),
        channels={},
        rules=[
            AlertRule("Typo", "http.server.request.durations", 1, aggregation="p95"),
            AlertRule("Fine", "http.server.request.duration", 1, aggregation="p95"),
        ],
    )
    assert engine.unknown_metrics(known_metric_names()) == [
        ("Typo", "http.server.request.durations")
    ]


def test_the_warning_is_logged_when_the_engine_starts(caplog: pytest.LogCaptureFixture) -> None:
    engine = AlertEngine(
        load_alert_settings(keywords={"alert_interval": 60}),
        channels={},
        rules=[AlertRule("Orders", "orders.placed.totl", 1, aggregation="rate")],
    )
    engine.check_metrics_with(lambda: known_metric_names() | {"orders.placed.total"})
    with caplog.at_level("WARNING", logger="otelkit"):
        engine.start()
        try:
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline and not any(
                "orders.placed.totl" in r.getMessage() for r in caplog.records
            ):
                time.sleep(0.05)
        finally:
            engine.stop()
    (line,) = [r.getMessage() for r in caplog.records if "orders.placed.totl" in r.getMessage()]
    assert "'Orders'" in line


def test_init_telemetry_reports_a_rules_file_rule_on_an_unknown_metric(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The runtime hands the catalog to the engine: the typo is named without any Python."""
    for name in list(os.environ):
        if name.startswith("OTELKIT_ALERT"):
            monkeypatch.delenv(name)
    path = tmp_path / "rules.yaml"
    path.write_text(
        "groups:\n"
        "  - name: shop\n"
        "    rules:\n"
        "      - alert: Slow\n"
        "        expr: histogram_quantile(0.95, sum by (le) (rate(http_server_request_duraton"
        "_seconds_bucket[5m]))) > 1\n"
    )
    with caplog.at_level("WARNING", logger="otelkit"):
        handle = otelkit.init_telemetry(
            "shop", exporters="memory", instrument="none", alert_rules_file=str(path)
        )
        try:
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline and not any(
                "duraton" in r.getMessage() for r in caplog.records
            ):
                time.sleep(0.05)
        finally:
            handle.shutdown()
    (line,) = [r.getMessage() for r in caplog.records if "duraton" in r.getMessage()]
    assert "'Slow'" in line
    assert "'http_server_request_duraton_seconds_bucket'" in line
