"""``otelkit rules``: Prometheus rules (and SLOs, runbook links, Alertmanager routing).

Exit codes: 0 written; 2 bad input (a flag, an ``OTELKIT_ALERT_*`` variable, an SLO, an
application that cannot be imported), with the reason on stderr.
"""

from __future__ import annotations

import inspect
import os
from pathlib import Path
from typing import Any, Optional

import typer

from otelkit._errors import ConfigError

EXIT_OK = 0
EXIT_BAD_INPUT = 2


def _write(text: str, output: str | None) -> None:
    if output in (None, "-"):
        typer.echo(text, nl=False)
    else:
        Path(output).write_text(text, encoding="utf-8")


def _http_buckets() -> tuple[float, ...]:
    from otelkit.config._core import SETTINGS
    from otelkit.config._setting import parse_setting

    setting = next(s for s in SETTINGS if s.key == "http_buckets")
    return tuple(parse_setting(setting, {}, os.environ, {}))


def run(
    *,
    service: str | None,
    app: str | None,
    slo: list[str],
    output: str | None,
    alertmanager: str | None,
    runbook_url: str | None,
    thresholds: dict[str, str | None],
) -> None:
    """Generate and write; raises ConfigError on bad input."""
    from otelkit.health._registry import HEALTH
    from otelkit.ops._native import native_from_environment
    from otelkit.ops.catalog import load_catalog
    from otelkit.ops.rules import (
        DEFAULT_RUNBOOK_URL,
        Thresholds,
        generate,
        generate_alertmanager,
        parse_slo_flag,
        registered_slos,
        render_alertmanager,
        render_yaml,
    )

    limits = Thresholds.load(thresholds)
    catalog = load_catalog(app)
    slos = [*registered_slos(), *(s for text in slo for s in parse_slo_flag(text))]
    noncritical = [c.name for c in HEALTH.checks if not c.critical] if app else []
    rules = generate(
        catalog,
        service=service,
        slos=slos,
        thresholds=limits,
        runbook_url=runbook_url or DEFAULT_RUNBOOK_URL,
        noncritical_checks=noncritical,
        http_buckets=_http_buckets(),
        native_histograms=native_from_environment(os.environ),  # OTELKIT_HISTOGRAM_AGGREGATION
    )
    _write(render_yaml(rules), output)
    if alertmanager:
        config = generate_alertmanager(repeat_interval_s=limits.repeat_interval_s)
        _write(render_alertmanager(config), alertmanager)


def register(app: typer.Typer) -> None:
    from otelkit.ops.rules import THRESHOLD_FLAGS

    def rules(**kwargs: Any) -> None:
        """Write Prometheus recording and alerting rules for what the service emits."""
        thresholds = {spec.field: kwargs.pop(spec.field) for spec in THRESHOLD_FLAGS}
        try:
            run(thresholds=thresholds, **kwargs)
        except ConfigError as exc:
            typer.echo(f"otelkit rules: {exc}", err=True)
            raise typer.Exit(EXIT_BAD_INPUT) from None

    option = inspect.Parameter.KEYWORD_ONLY
    parameters = [
        inspect.Parameter(
            "service",
            option,
            default=typer.Option(None, "--service", help="Only this service (its Prometheus job)."),
            annotation=Optional[str],  # noqa: UP045 (typer reads the annotation at runtime)
        ),
        inspect.Parameter(
            "app",
            option,
            default=typer.Option(
                None,
                "--app",
                help="module:attr of the application: only its integrations, "
                "its business metrics and its registered SLOs.",
            ),
            annotation=Optional[str],  # noqa: UP045
        ),
        inspect.Parameter(
            "slo",
            option,
            default=typer.Option(
                [],
                "--slo",
                help="An SLO: 'availability=99.9', 'latency=0.5s@99', with "
                "'route=/path' or 'function=<metric>' (repeatable).",
            ),
            annotation=list[str],
        ),
        inspect.Parameter(
            "output",
            option,
            default=typer.Option(
                None, "--output", "-o", help="Rule file to write (default: stdout)."
            ),
            annotation=Optional[str],  # noqa: UP045
        ),
        inspect.Parameter(
            "alertmanager",
            option,
            default=typer.Option(None, "--alertmanager", help="Also write an Alertmanager config."),
            annotation=Optional[str],  # noqa: UP045
        ),
        inspect.Parameter(
            "runbook_url",
            option,
            default=typer.Option(None, "--runbook-url", help="Where docs/runbooks.md is served."),
            annotation=Optional[str],  # noqa: UP045
        ),
    ]
    for spec in THRESHOLD_FLAGS:
        shared = f" [{spec.variable}]" if spec.variable else ""
        parameters.append(
            inspect.Parameter(
                spec.field,
                option,
                default=typer.Option(None, spec.flag, help=spec.help + shared),
                annotation=Optional[str],  # noqa: UP045
            )
        )
    rules.__signature__ = inspect.Signature(parameters)  # type: ignore[attr-defined]
    rules.__annotations__ = {p.name: p.annotation for p in parameters}
    app.command("rules")(rules)
