"""The committed example dashboard is what the generator writes today."""

from __future__ import annotations

from pathlib import Path

from otelkit.ops.dashboard import render
from otelkit.ops.dashboard._example import EXAMPLE_PATH, example
from tests.ops.dashboard.helpers import rows

ROOT = Path(__file__).resolve().parents[3]


def test_the_example_dashboard_is_current() -> None:
    """docs/generated/dashboard.json is exactly what `nox -s docs` generates (run it after a
    change)."""
    assert (ROOT / EXAMPLE_PATH).read_text(encoding="utf-8") == render(example())


def test_the_example_is_a_fastapi_sqlalchemy_celery_service_with_slos() -> None:
    dashboard = example()
    assert list(rows(dashboard)) == [
        "Overview",
        "Routes",
        "Database",
        "Celery tasks",
        "System and process",
        "Health checks",
        "Telemetry pipeline (otelkit)",
        "Alerts",
        "SLOs: burn rate and error budget",
    ]
