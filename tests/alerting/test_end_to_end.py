"""End to end: an instrumented FastAPI app fails 10 % of its requests; the error-rate alert
fires on the engine's own thread, reaches a real webhook receiver and a real aiosmtpd server,
marks the service unhealthy, and resolves once the errors stop.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import time
from typing import TYPE_CHECKING

import httpx
import pytest
from fastapi import FastAPI
from fastapi.responses import JSONResponse

import otelkit
from otelkit import testing
from otelkit.config import _settings as _config
from otelkit.health._registry import HEALTH
from tests.fixtures.servers import wait_until

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from otelkit.alerting._alert import Alert
    from tests.alerting.conftest import SmtpServer, WebhookReceiver

pytestmark = pytest.mark.skipif(
    "alerts" not in {f.name for f in dataclasses.fields(_config.Settings)},
    reason="needs the alerting settings wired into the configuration",
)


@pytest.fixture(autouse=True)
def _no_alert_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("OTELKIT_ALERT"):
            monkeypatch.delenv(name)


class Shop:
    """``/checkout`` answers 500 to every tenth request while ``failing`` is set."""

    def __init__(self) -> None:
        self.failing = True
        self.calls = 0
        self.app = FastAPI()

        @self.app.get("/checkout")
        async def checkout() -> JSONResponse:
            self.calls += 1
            if self.failing and self.calls % 10 == 0:
                return JSONResponse({"error": "payment backend down"}, status_code=500)
            return JSONResponse({"ok": True})

        otelkit.instrument_app(self.app)

    async def requests(self, count: int) -> list[int]:
        transport = httpx.ASGITransport(app=self.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://shop.test") as client:
            return [(await client.get("/checkout")).status_code for _ in range(count)]


@pytest.fixture
def telemetry(webhook: WebhookReceiver, smtp_server: SmtpServer) -> Iterator[otelkit.Telemetry]:
    """Alerting with the error-rate rule only: evaluated every 0.1 s over a 1 s window, `for: 0`."""
    handle = otelkit.init_telemetry(
        "checkout",
        exporters="memory",
        instrument="none",
        alert_interval=0.1,
        alert_window=1.0,
        alert_default_rules="error_rate",
        alert_error_rate_for=0,
        alert_webhook_url=webhook.url,
        alert_webhook_retries=0,
        alert_smtp_host=smtp_server.host,
        alert_smtp_port=smtp_server.port,
        alert_smtp_to="oncall@example.com",
        alert_smtp_from="alerts@checkout.example.com",
    )
    yield handle
    handle.shutdown()


def test_the_error_rate_alert_fires_notifies_and_resolves(
    telemetry: otelkit.Telemetry,
    webhook: WebhookReceiver,
    smtp_server: SmtpServer,
    collected: list[Alert],
) -> None:
    assert telemetry.alerts is not None  # turned on by configuring a channel
    shop = Shop()

    statuses = asyncio.run(shop.requests(100))
    assert statuses.count(500) == 10

    (fired,) = webhook.wait_for(1)
    assert fired.body["status"] == "firing"
    assert fired.body["alertname"] == "HighErrorRate"
    assert fired.body["severity"] == "critical"
    assert fired.body["service"] == "checkout"
    assert fired.body["value"] > 0.05
    assert fired.body["text"].startswith("[FIRING] HighErrorRate (critical) - checkout")
    (sender, recipients, mail) = smtp_server.mailbox.wait_for(1)[0]
    assert (sender, recipients) == ("alerts@checkout.example.com", ["oncall@example.com"])
    assert mail["Subject"] == "[FIRING] HighErrorRate (critical) - checkout"
    assert telemetry.alerts.status() == "unhealthy"
    # Health reports are cached for a second: wait for one taken after the alert fired.
    wait_until(lambda: HEALTH.check().status == "unhealthy", 5, "an unhealthy health report")
    assert dict(HEALTH.check().sources)["alerts"] == "unhealthy"

    # The errors stop; successful traffic goes on until the failures leave the 1 s window.
    shop.failing = False
    deadline = time.monotonic() + 15
    while len(webhook.received) < 2:
        assert time.monotonic() < deadline, "the alert did not resolve"
        asyncio.run(shop.requests(10))
        time.sleep(0.05)

    resolved = webhook.wait_for(2)[1]
    assert resolved.body["status"] == "resolved"
    assert resolved.body["text"].startswith("[RESOLVED] HighErrorRate (critical) - checkout")
    assert smtp_server.mailbox.wait_for(2)[1][2]["Subject"] == (
        "[RESOLVED] HighErrorRate (critical) - checkout"
    )
    assert telemetry.alerts.status() == "healthy"
    wait_until(lambda: HEALTH.check().status == "healthy", 5, "a healthy health report")
    assert telemetry.alerts.drain(5)  # the other channels' threads are done too
    assert [alert.state for alert in collected] == ["firing", "resolved"]

    # Every delivery is counted in otelkit.alert.notifications, by channel and outcome.
    counted = {
        (point.attributes["channel"], point.attributes["outcome"]): point.value
        for point in testing.points(telemetry, "otelkit.alert.notifications")
    }
    assert counted == {
        ("log", "sent"): 2,
        ("callback", "sent"): 2,
        ("webhook", "sent"): 2,
        ("smtp", "sent"): 2,
    }

    telemetry.shutdown()
    assert "alerts" not in dict(HEALTH.check().sources)  # the health hook is removed


def test_alerting_is_off_unless_asked_for() -> None:
    telemetry = otelkit.init_telemetry("quiet", exporters="memory", instrument="none")
    assert telemetry.alerts is None
    assert telemetry.settings.alerts is False


def test_a_bad_rules_file_fails_init_with_the_line_and_the_field(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text(
        "rules:\n"
        "  - name: SlowCheckout\n"
        "    metric: http.server.request.duration\n"
        "    aggregation: p95\n"
        "    threshold: 2\n"
        "    severity: urgent\n"
    )
    monkeypatch.setenv("OTELKIT_ALERT_RULES_FILE", str(rules))
    with pytest.raises(otelkit.ConfigError) as caught:
        otelkit.init_telemetry("checkout", exporters="memory", instrument="none")
    assert str(caught.value) == (
        f"OTELKIT_ALERT_RULES_FILE={str(rules)!r}, line 6: rule 'SlowCheckout', field "
        "'severity': 'urgent' is not one of the accepted values. Accepted: info, warning, "
        "critical."
    )
    from otelkit import _active

    assert _active.current() is None  # nothing was started


def test_rules_added_at_run_time_and_public_names(telemetry: otelkit.Telemetry) -> None:
    """`otelkit.AlertRule` and `otelkit.on_alert` are the public names; rules can be added."""
    assert telemetry.alerts is not None
    rule = otelkit.AlertRule("TooManyCheckouts", "http.server.request.duration", 5, "rate")
    telemetry.alerts.add_rule(rule)
    assert rule in telemetry.alerts.rules
    assert otelkit.on_alert is not None
