"""``otelkit doctor``: the configuration as ``init_telemetry()`` resolves it, then every check.

Exit status: 0 healthy (warnings allowed), 1 problems found (each with its fix), 2 the
configuration does not load (the ``ConfigError``, naming the variable, is the finding).
"""

from __future__ import annotations

import os
import re
from typing import Any

import typer

from otelkit._errors import ConfigError
from otelkit.cli import _effective
from otelkit.cli._config import EXIT_CONFIG_ERROR, load_with_warnings, settings_table
from otelkit.cli._doctor_checks import (
    OK,
    PROBLEM,
    WARNING,
    Finding,
    check_alert_rules,
    check_exporters,
    check_packages,
)
from otelkit.cli._doctor_variables import check_variables
from otelkit.cli._output import (
    OUTPUT,
    Output,
    console,
    escape,
    print_json,
    styled,
    table,
)
from otelkit.cli._secrets import error_text
from otelkit.config._redact import redact_text

__all__ = ["EXIT_HEALTHY", "EXIT_PROBLEMS", "diagnose", "register"]

EXIT_HEALTHY, EXIT_PROBLEMS = 0, 1
_VARIABLE = re.compile(r"([A-Z][A-Z0-9_]+)=")
_STYLES = {OK: "green", WARNING: "yellow", PROBLEM: "bold red"}


def diagnose() -> dict[str, Any]:
    """Everything doctor knows, as data: settings, findings and the exit code."""
    report: dict[str, Any] = {"service": None, "environment": None, "settings": []}
    try:
        loaded, plugins, warned = load_with_warnings(variables=False)
        settings = loaded.settings
        report["service"] = (
            settings.service_name
            if _effective.service_name_given(loaded, os.environ)
            else _effective.SCRIPT_NAME
        )
        report["environment"] = settings.environment
        report["settings"] = [r.as_dict() for r in _effective.effective_values(loaded, os.environ)]
        findings = check_variables(os.environ, warned)
        if settings.sdk_disabled:
            findings.append(Finding("sdk", WARNING, "OTEL_SDK_DISABLED is set: telemetry is off"))
        else:
            from otelkit.runtime import _integrations

            _integrations.check(settings)
            findings += check_exporters(plugins, settings)
            findings += check_packages(settings)
            findings += check_alert_rules(settings)
    except ConfigError as exc:
        message = error_text(exc)
        named = _VARIABLE.match(message)
        fix = (
            f"set {named.group(1)} to one of the accepted values (docs/configuration.md)"
            if named
            else "correct the value named in the message (docs/configuration.md)"
        )
        report["findings"] = [Finding("configuration", PROBLEM, message, fix).as_dict()]
        report["status"], report["exit_code"] = "configuration error", EXIT_CONFIG_ERROR
        return report
    report["findings"] = [_redacted(f) for f in findings]
    problems = sum(f.status == PROBLEM for f in findings)
    report["status"] = "problems found" if problems else "healthy"
    report["exit_code"] = EXIT_PROBLEMS if problems else EXIT_HEALTHY
    return report


def _redacted(finding: Finding) -> dict[str, Any]:
    """A finding as printed: a probe's or a check's text may quote what it was given."""
    shown = finding.as_dict()
    shown["detail"] = redact_text(finding.detail)
    shown["fix"] = redact_text(finding.fix) if finding.fix else finding.fix
    return shown


def _render(report: dict[str, Any]) -> None:
    out = console()
    if report["service"] is not None:
        out.print(
            f"otelkit doctor: service [bold]{escape(str(report['service']))}[/], "
            f"environment [bold]{escape(str(report['environment']))}[/]"
        )
    if report["settings"]:
        values = [_effective.EffectiveValue(**row, secret=False) for row in report["settings"]]
        out.print(settings_table(values))
    findings = report["findings"]
    if report["exit_code"] == EXIT_CONFIG_ERROR:
        (finding,) = findings
        out.print(f"[bold red]configuration error[/]: {escape(finding['detail'])}")
        out.print(f"fix: {escape(finding['fix'])}")
        return
    cells = (
        (f["check"], styled(f["status"], _STYLES[f["status"]]), f["detail"], f["fix"] or "")
        for f in findings
    )
    out.print(table("Checks", ("check", "status", "detail", "fix"), cells))
    problems = [f for f in findings if f["status"] == PROBLEM]
    if problems:
        out.print(f"[bold red]{len(problems)} problem(s) found[/]:")
        for finding in problems:
            line = f"  - {finding['check']}: {finding['detail']}; fix: {finding['fix']}"
            out.print(escape(line))
    else:
        warnings = sum(f["status"] == WARNING for f in findings)
        suffix = f" ({warnings} warning(s))" if warnings else ""
        out.print(f"[green]healthy[/]{suffix}")


def register(app: typer.Typer) -> None:
    @app.command()
    def doctor(output: Output = OUTPUT) -> None:
        """Check this environment's configuration as init_telemetry() would, and each exporter.

        Exit status: 0 healthy, 1 problems found (each with its fix), 2 configuration error.
        """
        report = diagnose()
        if output is Output.json:
            print_json(report)
        else:
            _render(report)
        raise typer.Exit(report["exit_code"])
