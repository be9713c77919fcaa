"""The committed examples: the files ``otelkit rules`` writes for a FastAPI + SQLAlchemy +
Celery service, and docs/runbooks.md. ``python -m otelkit.ops.rules`` rewrites them (the
``docs`` nox session runs it); a test checks that they are current."""

from __future__ import annotations

from typing import TYPE_CHECKING

from otelkit.ops.rules._alertmanager import generate_alertmanager, render_alertmanager
from otelkit.ops.rules._generate import DEFAULT_RUNBOOK_URL, build_groups
from otelkit.ops.rules._render import render_yaml, rule_file
from otelkit.ops.rules._runbooks import render_runbooks
from otelkit.ops.rules._slo import SLO
from otelkit.ops.rules._thresholds import Thresholds

if TYPE_CHECKING:
    from pathlib import Path

    from otelkit.ops.rules._model import Group

__all__ = ["EXAMPLE_INTEGRATIONS", "EXAMPLE_SLOS", "render_all"]

EXAMPLE_INTEGRATIONS = ("http", "db", "celery", "system", "process", "health", "otelkit")
"""FastAPI, SQLAlchemy, Celery, with ``otelkit[system]``: what the example service emits."""
EXAMPLE_SERVICE = "shop"
EXAMPLE_SLOS = (
    SLO("shop-availability", 99.9),
    SLO("checkout-latency", 99, latency=0.5, route="/checkout"),
)
EXAMPLE_NONCRITICAL = ("cache",)
"""A health check registered with ``critical=False``, so both health alerts are shown."""


def render_all() -> dict[str, str]:
    """Relative path -> content of every generated file."""
    from otelkit.ops.catalog import load_catalog

    catalog = load_catalog(None).only(EXAMPLE_INTEGRATIONS)

    def groups(service: str) -> list[Group]:
        return build_groups(
            catalog,
            service=service,
            slos=EXAMPLE_SLOS,
            thresholds=Thresholds(),
            noncritical_checks=EXAMPLE_NONCRITICAL,
        )

    rules = rule_file(groups(EXAMPLE_SERVICE), DEFAULT_RUNBOOK_URL)
    return {
        "docs/generated/prometheus-rules.yaml": render_yaml(rules),
        "docs/generated/alertmanager.yml": render_alertmanager(generate_alertmanager()),
        # The runbooks show the expressions with a placeholder for the service.
        "docs/runbooks.md": render_runbooks(groups("<service>")),
    }


def write_all(root: Path) -> None:
    for relative, text in render_all().items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
