"""The committed example: the dashboard ``otelkit dashboard`` writes for the FastAPI +
SQLAlchemy + Celery service whose rules are in docs/generated/ too (same service, same SLOs).
``python -m otelkit.ops.dashboard`` rewrites it (the ``docs`` nox session runs it); a test
checks that it is current."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from otelkit.ops.catalog import load_catalog
from otelkit.ops.dashboard._build import generate
from otelkit.ops.rules._docs import EXAMPLE_INTEGRATIONS, EXAMPLE_SERVICE, EXAMPLE_SLOS

if TYPE_CHECKING:
    from pathlib import Path

__all__ = ["EXAMPLE_PATH", "example", "write_example"]

EXAMPLE_PATH = "docs/generated/dashboard.json"


def example() -> dict[str, Any]:
    """The example dashboard (built-in metrics only: no business metrics of this process)."""
    catalog = load_catalog(None).only(EXAMPLE_INTEGRATIONS)
    return generate(catalog, service=EXAMPLE_SERVICE, slos=EXAMPLE_SLOS)


def write_example(root: Path) -> Path:
    from otelkit.ops.dashboard import render

    path = root / EXAMPLE_PATH
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render(example()), encoding="utf-8")
    return path
