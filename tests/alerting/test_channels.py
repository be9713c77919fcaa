"""Alert channels against real peers: a loopback HTTP server and a real aiosmtpd server."""

from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING

import pytest

from otelkit.alerting._alert import Alert
from otelkit.alerting._callbacks import on_alert, remove_callback
from otelkit.alerting._channels import CallbackChannel, LogChannel, build_channels
from otelkit.alerting._delivery import DeliveryError
from otelkit.alerting._dispatch import Dispatcher
from otelkit.alerting._rules import AlertRule
from otelkit.alerting._smtp import SmtpChannel
from otelkit.alerting._webhook import WebhookChannel
from otelkit.config._alerting import load_alert_settings
from otelkit.config._parse import Secret
from tests.alerting.conftest import SMTP_PASSWORD, SMTP_USER, WEBHOOK_PATH, Answer
from tests.fixtures.servers import free_port

if TYPE_CHECKING:
    from typing import Any

    from otelkit.alerting._delivery import Channel
    from tests.alerting.conftest import SmtpServer, WebhookReceiver

RULE = AlertRule(
    "HighErrorRate",
    "http.server.request.duration",
    0.05,
    aggregation="ratio",
    numerator={"error.type": {"exists": True}},
    severity="critical",
    summary="Checkout is failing",
)
FIRED_AT = 1_700_000_000.0  # 2023-11-14T22:13:20Z


def alert(state: str = "firing", rule: AlertRule = RULE, value: float | None = 0.1) -> Alert:
    return Alert(
        rule=rule,
        state=state,
        labels={"alertname": rule.name, "severity": rule.severity, "http.route": "/checkout"},
        value=value,
        active_at=FIRED_AT - 60,
        fired_at=FIRED_AT,
        resolved_at=FIRED_AT + 300 if state == "resolved" else None,
        expression=rule.expression(300),
        service="orders",
    )


def webhook_channel(url: str, **options: Any) -> WebhookChannel:
    settings: dict[str, Any] = {"timeout": 2.0, "retries": 0, "backoff": 0.01, **options}
    return WebhookChannel(Secret(url), **settings)


# -- webhook -----------------------------------------------------------------------------------


class TestWebhook:
    def test_posts_slack_compatible_json_with_the_structured_fields(
        self, webhook: WebhookReceiver
    ) -> None:
        webhook_channel(webhook.url).send(alert())
        (posted,) = webhook.wait_for(1)
        assert posted.path == WEBHOOK_PATH
        assert posted.headers["Content-Type"] == "application/json; charset=utf-8"
        assert posted.body["text"] == alert().text
        assert posted.body["text"].startswith("[FIRING] HighErrorRate (critical) - orders")
        assert {k: posted.body[k] for k in ("status", "alertname", "severity", "value")} == {
            "status": "firing",
            "alertname": "HighErrorRate",
            "severity": "critical",
            "value": 0.1,
        }
        assert posted.body["labels"]["http.route"] == "/checkout"
        assert posted.body["fired_at"] == "2023-11-14T22:13:20.000Z"
        assert posted.body["resolved_at"] is None

    def test_5xx_and_429_are_retried_with_exponential_backoff(
        self, webhook: WebhookReceiver
    ) -> None:
        webhook.script = [Answer(503), Answer(429, headers={"Retry-After": "0"}), Answer(200)]
        waits: list[float] = []
        channel = webhook_channel(webhook.url, retries=3, backoff=0.01, sleep=waits.append)
        channel.send(alert())
        assert len(webhook.wait_for(3)) == 3
        assert waits == [0.01, 0.02]

    def test_retry_after_is_honoured(self, webhook: WebhookReceiver) -> None:
        webhook.script = [Answer(429, headers={"Retry-After": "3"}), Answer(200)]
        waits: list[float] = []
        webhook_channel(webhook.url, retries=1, sleep=waits.append).send(alert())
        assert waits == [3.0]

    def test_it_gives_up_after_the_retries_without_showing_the_url(
        self, webhook: WebhookReceiver
    ) -> None:
        webhook.script = [Answer(500)] * 3
        channel = webhook_channel(webhook.url, retries=2, sleep=lambda _: None)
        with pytest.raises(DeliveryError) as caught:
            channel.send(alert())
        assert str(caught.value) == "webhook: HTTP 500 (3 attempts)"
        assert len(webhook.received) == 3
        assert "s3cr3t" not in repr(channel)

    def test_a_client_error_is_final(self, webhook: WebhookReceiver) -> None:
        webhook.script = [Answer(400)]
        with pytest.raises(DeliveryError, match=r"HTTP 400 \(1 attempt\)"):
            webhook_channel(webhook.url, retries=3, sleep=lambda _: None).send(alert())
        assert len(webhook.received) == 1

    def test_each_attempt_has_a_time_limit(self, webhook: WebhookReceiver) -> None:
        release = threading.Event()
        webhook.script = [Answer(hold=release)]
        try:
            with pytest.raises(DeliveryError, match="webhook: timed out"):
                webhook_channel(webhook.url, timeout=0.3).send(alert())
        finally:
            release.set()

    def test_a_refused_connection_fails_cleanly(self) -> None:
        url = f"http://127.0.0.1:{free_port()}{WEBHOOK_PATH}"
        with pytest.raises(DeliveryError) as caught:
            webhook_channel(url).send(alert())
        assert "ConnectionRefusedError" in str(caught.value)
        assert "s3cr3t" not in str(caught.value)


# -- smtp --------------------------------------------------------------------------------------


class TestSmtp:
    def test_an_email_per_notification(self, smtp_server: SmtpServer) -> None:
        channel = SmtpChannel(
            smtp_server.host,
            smtp_server.port,
            tls="off",
            sender="otelkit@orders.example.com",
            recipients=("ops@example.com", "oncall@example.com"),
        )
        channel.send(alert())
        channel.send(alert("resolved", value=0.01))
        (sender, recipients, message), (_, _, resolved) = smtp_server.mailbox.wait_for(2)
        assert sender == "otelkit@orders.example.com"
        assert recipients == ["ops@example.com", "oncall@example.com"]
        assert message["Subject"] == "[FIRING] HighErrorRate (critical) - orders"
        assert message["To"] == "ops@example.com, oncall@example.com"
        body = message.get_content().replace("\r\n", "\n")
        assert body.startswith(alert().text + "\n")
        assert "value: 0.1\n" in body
        assert "labels: alertname=HighErrorRate, severity=critical, http.route=/checkout\n" in body
        assert resolved["Subject"] == "[RESOLVED] HighErrorRate (critical) - orders"

    def test_login_from_the_settings(self, smtp_server_with_login: SmtpServer) -> None:
        """User and password come from the settings; plain text is allowed on loopback only."""
        settings = load_alert_settings(
            environ={
                "OTELKIT_ALERT_SMTP_HOST": smtp_server_with_login.host,
                "OTELKIT_ALERT_SMTP_PORT": str(smtp_server_with_login.port),
                "OTELKIT_ALERT_SMTP_TO": "ops@example.com",
                "OTELKIT_ALERT_SMTP_USER": SMTP_USER,
                "OTELKIT_ALERT_SMTP_PASSWORD": SMTP_PASSWORD,
            }
        )
        channel = build_channels(settings)["smtp"]
        channel.send(alert())
        smtp_server_with_login.mailbox.wait_for(1)
        assert smtp_server_with_login.mailbox.logins == [
            (SMTP_USER.encode(), SMTP_PASSWORD.encode())
        ]
        assert SMTP_PASSWORD not in repr(channel)

    def test_a_refused_login_fails_without_showing_the_password(
        self, smtp_server_with_login: SmtpServer
    ) -> None:
        channel = SmtpChannel(
            smtp_server_with_login.host,
            smtp_server_with_login.port,
            tls="off",
            sender="otelkit@example.com",
            recipients=("ops@example.com",),
            user=SMTP_USER,
            password=Secret("wrong-password"),
        )
        with pytest.raises(DeliveryError) as caught:
            channel.send(alert())
        assert str(caught.value) == "smtp: the server answered 535"
        assert smtp_server_with_login.mailbox.messages == []

    def test_a_server_that_is_down(self) -> None:
        channel = SmtpChannel(
            "127.0.0.1",
            free_port(),
            tls="off",
            sender="otelkit@example.com",
            recipients=("ops@example.com",),
            timeout=2.0,
        )
        with pytest.raises(DeliveryError, match="smtp: ConnectionRefusedError"):
            channel.send(alert())


# -- log and callbacks -------------------------------------------------------------------------


def test_the_log_channel_logs_by_severity(caplog: pytest.LogCaptureFixture) -> None:
    warning = AlertRule("DeepQueue", "queue.depth", 100)
    with caplog.at_level(logging.INFO, logger="otelkit.alerts"):
        LogChannel().send(alert())
        LogChannel().send(alert(rule=warning))
        LogChannel().send(alert("resolved"))
    levels = [(r.levelname, r.getMessage().split("]")[0]) for r in caplog.records]
    assert levels == [("ERROR", "[FIRING"), ("WARNING", "[FIRING"), ("INFO", "[RESOLVED")]
    assert caplog.records[0].otelkit_alert["alertname"] == "HighErrorRate"


def test_on_alert_registers_once_and_works_as_a_decorator() -> None:
    seen: list[str] = []

    @on_alert
    def record(fired: Alert) -> None:
        seen.append(fired.name)

    try:
        assert on_alert(record) is record  # a second registration changes nothing
        CallbackChannel().send(alert())
        assert seen == ["HighErrorRate"]
    finally:
        remove_callback(record)
    CallbackChannel().send(alert())
    assert seen == ["HighErrorRate"]
    with pytest.raises(TypeError, match="needs a callable"):
        on_alert("not a function")  # type: ignore[type-var]


def test_a_callback_that_raises_does_not_stop_the_others(collected: list[Alert]) -> None:
    def broken(fired: Alert) -> None:
        raise RuntimeError("boom")

    on_alert(broken)
    try:
        with pytest.raises(
            DeliveryError, match=r"1 of 2 on_alert callbacks raised \(RuntimeError\)"
        ):
            CallbackChannel().send(alert())
    finally:
        remove_callback(broken)
    assert [a.name for a in collected] == ["HighErrorRate"]


# -- dispatch ----------------------------------------------------------------------------------


class TestDispatcher:
    def channels(self, webhook_url: str, smtp: SmtpServer) -> dict[str, Channel]:
        return {
            "log": LogChannel(),
            "callback": CallbackChannel(),
            "webhook": webhook_channel(webhook_url),
            "smtp": SmtpChannel(
                smtp.host,
                smtp.port,
                tls="off",
                sender="otelkit@example.com",
                recipients=("ops@example.com",),
            ),
        }

    def test_a_failing_channel_stops_neither_the_others_nor_later_notifications(
        self, smtp_server: SmtpServer, collected: list[Alert], caplog: pytest.LogCaptureFixture
    ) -> None:
        dead_webhook = f"http://127.0.0.1:{free_port()}{WEBHOOK_PATH}"
        dispatcher = Dispatcher(self.channels(dead_webhook, smtp_server))
        with caplog.at_level(logging.WARNING, logger="otelkit"):
            dispatcher.dispatch([alert()])
            assert dispatcher.drain(10)
            dispatcher.dispatch([alert("resolved")])
            assert dispatcher.drain(10)
        dispatcher.close(5)

        assert len(smtp_server.mailbox.wait_for(2)) == 2
        assert [a.state for a in collected] == ["firing", "resolved"]
        assert dispatcher.counts() == {
            ("log", "sent"): 2,
            ("callback", "sent"): 2,
            ("webhook", "failed"): 2,
            ("smtp", "sent"): 2,
        }
        failures = [r for r in caplog.records if "alert channel" in r.getMessage()]
        assert len(failures) == 1  # once per channel and kind of error
        assert "'webhook' failed" in failures[0].getMessage()
        assert "s3cr3t" not in caplog.text

    def test_a_slow_channel_does_not_hold_up_the_others(
        self, webhook: WebhookReceiver, smtp_server: SmtpServer
    ) -> None:
        release = threading.Event()
        webhook.script = [Answer(hold=release)]
        dispatcher = Dispatcher(self.channels(webhook.url, smtp_server))
        try:
            dispatcher.dispatch([alert()])
            webhook.wait_for(1)  # the webhook is now waiting for its answer...
            smtp_server.mailbox.wait_for(1)  # ...and the e-mail went out meanwhile
            assert ("webhook", "sent") not in dispatcher.counts()
        finally:
            release.set()
        assert dispatcher.drain(10)
        assert dispatcher.counts()[("webhook", "sent")] == 1
        dispatcher.close(5)

    def test_a_rule_s_channels_are_the_only_ones_used(
        self, webhook: WebhookReceiver, smtp_server: SmtpServer
    ) -> None:
        only_mail = AlertRule("Deep", "queue.depth", 1, channels=("smtp",))
        dispatcher = Dispatcher(self.channels(webhook.url, smtp_server))
        dispatcher.dispatch([alert(rule=only_mail)])
        assert dispatcher.drain(10)
        dispatcher.close(5)
        assert dispatcher.counts() == {("smtp", "sent"): 1}
        assert webhook.received == []

    def test_a_full_queue_drops_and_counts(self, webhook: WebhookReceiver) -> None:
        release = threading.Event()
        webhook.script = [Answer(hold=release)]
        dispatcher = Dispatcher({"webhook": webhook_channel(webhook.url)}, queue_size=1)
        try:
            dispatcher.dispatch([alert()])
            webhook.wait_for(1)  # the first is being delivered, the queue is empty
            dispatcher.dispatch([alert(), alert()])  # one waits, one does not fit
            assert dispatcher.counts() == {("webhook", "dropped"): 1}
        finally:
            release.set()
        assert dispatcher.drain(10)
        dispatcher.close(5)
        assert dispatcher.counts() == {("webhook", "dropped"): 1, ("webhook", "sent"): 2}
