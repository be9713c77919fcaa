"""``otelkit alerts test`` and ``otelkit alerts check FILE``: the in-process alerting, tried.

``test`` builds the channels this environment configures, as ``init_telemetry()`` would, and
sends each one test notification, synchronously: exit 0 if every channel took it, 1 if one
failed, 2 if the configuration does not load. ``check`` reads a rules file with the engine's
own parser (errors name the line and the field) and checks that each rule's metric is one
something emits: exit 0 valid, 1 invalid or a rule that can never fire as written, 2 the file
cannot be read.
"""

from __future__ import annotations

import logging
import re
import sys
import time
from pathlib import Path  # noqa: TC003 (typer reads the annotations at run time)
from typing import Any

import typer

from otelkit._errors import ConfigError
from otelkit.cli._config import EXIT_CONFIG_ERROR, load_with_warnings
from otelkit.cli._doctor_checks import PROBLEM, check_rule_metrics
from otelkit.cli._output import OUTPUT, Output, console, escape, print_json, table
from otelkit.cli._secrets import error_text

__all__ = ["register"]

EXIT_OK, EXIT_FAILED = 0, 1
ALL_CHANNELS = ("log", "callback", "webhook", "smtp")
TEST_RULE = "OtelkitTestAlert"
_LINE = re.compile(r", line (\d+)")


def _test_alert(service: str) -> Any:
    from otelkit.alerting._alert import FIRING, Alert
    from otelkit.alerting._rules import AlertRule

    rule = AlertRule(
        name=TEST_RULE,
        metric="otelkit.alert.test",
        threshold=0,
        severity="info",
        summary="a test notification sent by `otelkit alerts test`; nothing is wrong",
    )
    now = time.time()
    return Alert(
        rule=rule,
        state=FIRING,
        labels={"alertname": TEST_RULE, "severity": "info"},
        value=1.0,
        active_at=now,
        fired_at=now,
        expression="otelkit alerts test",
        service=service,
    )


def send_test_alerts() -> tuple[int, list[dict[str, str]]]:
    """Every configured channel gets one test alert; returns the exit code and the outcomes."""
    from otelkit.alerting._channels import build_channels
    from otelkit.config._alerting import AlertSettings

    loaded, _, _ = load_with_warnings()
    settings = loaded.settings
    channels = build_channels(AlertSettings.of(settings))
    alert = _test_alert(settings.service_name)
    logging.getLogger("otelkit.alerts").addHandler(logging.StreamHandler(sys.stderr))
    logging.getLogger("otelkit.alerts").setLevel(logging.INFO)
    outcomes = []
    for name, channel in channels.items():
        if name == "callback":
            detail = "on_alert() callbacks live inside the application; none here"
            outcomes.append({"channel": name, "outcome": "skipped", "detail": detail})
            continue
        try:
            channel.send(alert)
        except Exception as exc:
            detail = error_text(exc) or type(exc).__name__
            outcomes.append({"channel": name, "outcome": "failed", "detail": detail})
            continue
        detail = "logged on the otelkit.alerts logger" if name == "log" else "delivered"
        outcomes.append({"channel": name, "outcome": "sent", "detail": detail})
    failed = any(o["outcome"] == "failed" for o in outcomes)
    return (EXIT_FAILED if failed else EXIT_OK), outcomes


def check_file(path: Path) -> dict[str, Any]:
    from otelkit.alerting._rulesfile import parse_any

    report: dict[str, Any] = {"file": str(path), "valid": False, "error": None, "line": None}
    try:
        text = path.read_text(encoding="utf-8")
        rules, program = parse_any(text, str(path), ALL_CHANNELS)
    except (OSError, UnicodeDecodeError) as exc:
        report["error"] = f"{path}: cannot be read ({getattr(exc, 'strerror', None) or exc})"
        report["unreadable"] = True
        return report
    except ConfigError as exc:
        report["error"] = error_text(exc)
        found = _LINE.search(str(exc))
        report["line"] = int(found.group(1)) if found else None
        return report
    findings = check_rule_metrics(rules, str(path))
    report["valid"] = not any(f.status == PROBLEM for f in findings)
    report["rules"] = [
        {
            "name": r.name,
            "metric": r.metric,
            "aggregation": r.aggregation,
            "condition": f"{r.operator} {r.threshold:g}",
            "for_s": r.for_duration,
            "severity": r.severity,
            "channels": list(r.channels) if r.channels is not None else None,
        }
        for r in rules
    ]
    if program is not None:  # a Prometheus rule file: its evaluated and unsupported rules
        report["rules"] += [
            {
                "name": r.name,
                "metric": r.metric,
                "aggregation": r.aggregation,
                "condition": r.expression(),
                "for_s": r.for_duration,
                "severity": r.severity,
                "channels": None,
            }
            for r in program.rules
        ]
        report["unsupported"] = [
            {"rule": s.name, "group": s.group, "kind": s.kind, "reason": s.reason}
            for s in program.unsupported
        ]
    report["findings"] = [f.as_dict() for f in findings]
    return report


def _render_check(report: dict[str, Any]) -> None:
    out = console()
    if report["error"]:
        out.print(f"[bold red]invalid[/]: {escape(report['error'])}")
        return
    rows = (
        (
            r["name"],
            r["metric"],
            r["aggregation"],
            r["condition"],
            f"{r['for_s']:g} s",
            r["severity"],
            ",".join(r["channels"]) if r["channels"] is not None else "all",
        )
        for r in report["rules"]
    )
    columns = ("rule", "metric", "aggregation", "condition", "for", "severity", "channels")
    out.print(table(escape(f"{report['file']}: {len(report['rules'])} rules"), columns, rows))
    for skipped in report.get("unsupported", ()):
        out.print(
            escape(
                f"not evaluated in-process: {skipped['kind']} rule {skipped['rule']}: "
                f"{skipped['reason']}"
            )
        )
    for finding in report["findings"]:
        fix = f"; fix: {finding['fix']}" if finding["fix"] else ""
        out.print(escape(f"{finding['status']}: {finding['check']}: {finding['detail']}{fix}"))
    out.print("[green]valid[/]" if report["valid"] else "[bold red]problems found[/]")


FILE = typer.Argument(..., help="A YAML rules file (OTELKIT_ALERT_RULES_FILE).")


def register(app: typer.Typer) -> None:
    alerts = typer.Typer(help="Try the in-process alerting: send a test alert, check a file.")
    app.add_typer(alerts, name="alerts")

    @alerts.command("test")
    def test(output: Output = OUTPUT) -> None:
        """Send a test alert through every configured channel (webhook, SMTP, log)."""
        try:
            code, outcomes = send_test_alerts()
        except ConfigError as exc:
            message = error_text(exc)
            if output is Output.json:
                print_json({"error": message})
            else:
                console(stderr=True).print(f"[bold red]configuration error:[/] {escape(message)}")
            raise typer.Exit(EXIT_CONFIG_ERROR) from None
        if output is Output.json:
            print_json({"channels": outcomes})
        else:
            rows = ((o["channel"], o["outcome"], o["detail"]) for o in outcomes)
            console().print(table("Test alert", ("channel", "outcome", "detail"), rows))
            if {o["channel"] for o in outcomes} <= {"log", "callback"}:
                console().print(
                    "only the log channel is configured: set OTELKIT_ALERT_WEBHOOK_URL or "
                    "OTELKIT_ALERT_SMTP_HOST to notify people"
                )
        raise typer.Exit(code)

    @alerts.command("check")
    def check(
        file: Path = FILE,
        output: Output = OUTPUT,
    ) -> None:
        """Validate an alert rules file: errors name the line and the field."""
        report = check_file(file)
        if output is Output.json:
            print_json(report)
        else:
            _render_check(report)
        if report.get("unreadable"):
            raise typer.Exit(EXIT_CONFIG_ERROR)
        raise typer.Exit(EXIT_OK if report["valid"] else EXIT_FAILED)
