"""``otelkit alerts check FILE`` and ``otelkit alerts test``."""

from __future__ import annotations

from typing import TYPE_CHECKING

from tests.cli.conftest import json_of, run_otelkit
from tests.fixtures.servers import free_port

if TYPE_CHECKING:
    from pathlib import Path

    from tests.cli.conftest import Webhook

VALID = """\
rules:
  - name: CheckoutErrors
    metric: http.server.request.duration
    where: {http.route: /checkout}
    aggregation: ratio
    numerator: {error.type: {exists: true}}
    threshold: 0.02
    for: 2m
    severity: critical
"""


def test_a_valid_file_lists_its_rules_and_exits_0(tmp_path: Path) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text(VALID)
    result = run_otelkit("alerts", "check", str(rules))
    assert result.returncode == 0, result.stdout
    assert "CheckoutErrors" in result.stdout
    assert result.stdout.splitlines()[-1] == "valid"


def test_a_broken_file_reports_the_line_of_the_error(tmp_path: Path) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text(VALID.replace("    threshold: 0.02\n", "    threshold: two percent\n"))
    result = run_otelkit("alerts", "check", str(rules))
    assert result.returncode == 1
    assert f"{rules}, line 7: rule 'CheckoutErrors', field 'threshold'" in result.stdout
    report = json_of(run_otelkit("alerts", "check", str(rules), "-o", "json"))
    assert report["valid"] is False
    assert report["line"] == 7


def test_a_yaml_syntax_error_reports_its_line(tmp_path: Path) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text(VALID + "  - name: [unclosed\n")
    report = json_of(run_otelkit("alerts", "check", str(rules), "-o", "json"))
    assert report["valid"] is False
    assert report["line"] == 11
    assert "not valid YAML" in report["error"]


def test_a_rule_on_a_prometheus_name_is_a_problem(tmp_path: Path) -> None:
    """In-process rules read OpenTelemetry names; the fix gives the right one."""
    rules = tmp_path / "rules.yaml"
    rules.write_text(
        VALID.replace("http.server.request.duration", "http_server_request_duration_seconds")
    )
    result = run_otelkit("alerts", "check", str(rules), "-o", "json")
    assert result.returncode == 1
    (finding,) = json_of(result)["findings"]
    assert finding["fix"] == "write metric: http.server.request.duration"


def test_a_missing_file_is_a_usage_error(tmp_path: Path) -> None:
    result = run_otelkit("alerts", "check", str(tmp_path / "nothing.yaml"))
    assert result.returncode == 2
    assert "cannot be read" in result.stdout


def test_the_test_alert_reaches_a_real_webhook(webhook: Webhook) -> None:
    result = run_otelkit(
        "alerts",
        "test",
        "-o",
        "json",
        env={"OTELKIT_ALERT_WEBHOOK_URL": webhook.url(), "OTEL_SERVICE_NAME": "shop"},
    )
    assert result.returncode == 0, result.stdout
    outcomes = {o["channel"]: o["outcome"] for o in json_of(result)["channels"]}
    assert outcomes == {"log": "sent", "callback": "skipped", "webhook": "sent"}
    (body,) = webhook.bodies
    assert body["alertname"] == "OtelkitTestAlert"
    assert body["service"] == "shop"
    assert body["status"] == "firing"
    assert webhook.paths == ["/hooks/alerts"]


def test_a_failing_channel_exits_1(webhook: Webhook) -> None:
    webhook.status = 403
    result = run_otelkit(
        "alerts",
        "test",
        env={"OTELKIT_ALERT_WEBHOOK_URL": webhook.url(), "OTELKIT_ALERT_WEBHOOK_RETRIES": "0"},
    )
    assert result.returncode == 1
    line = next(line for line in result.stdout.splitlines() if "webhook" in line)
    assert "failed" in line
    assert "403" in line


def test_an_unreachable_webhook_fails_without_showing_its_url() -> None:
    url = f"http://127.0.0.1:{free_port()}/hooks/T0/B0/very-secret-path"
    result = run_otelkit(
        "alerts",
        "test",
        env={"OTELKIT_ALERT_WEBHOOK_URL": url, "OTELKIT_ALERT_WEBHOOK_RETRIES": "0"},
    )
    assert result.returncode == 1
    assert "very-secret-path" not in result.stdout + result.stderr
