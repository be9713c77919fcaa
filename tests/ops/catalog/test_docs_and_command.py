"""docs/metrics.md and ``otelkit metrics`` are the catalog, printed."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from typer.testing import CliRunner

from otelkit.cli import _metrics
from otelkit.ops.catalog import load_catalog
from otelkit.ops.catalog._catalog import Catalog, builtin
from otelkit.ops.catalog._markdown import render

ROOT = Path(__file__).resolve().parents[3]


def test_the_metrics_page_is_current() -> None:
    """docs/metrics.md is exactly what `nox -s docs` generates (run it after a change)."""
    assert (ROOT / "docs" / "metrics.md").read_text() == render(Catalog(builtin()))


def test_the_page_documents_every_metric_with_its_prometheus_series() -> None:
    page = render(Catalog(builtin()))
    for spec in builtin():
        assert f"### `{spec.name}`" in page
        for series in spec.prometheus_series():
            assert f"`{series}`" in page


def _command() -> typer.Typer:
    app = typer.Typer()

    @app.callback()
    def group() -> None:
        """The otelkit command, with only this verb."""

    _metrics.register(app)
    return app


def test_json_output_is_the_catalog() -> None:
    result = CliRunner().invoke(_command(), ["metrics", "--output", "json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    catalog = load_catalog()
    assert [m["name"] for m in data["metrics"]] == [spec.name for spec in catalog.metrics]
    assert data["integrations"] == list(catalog.ordered_integrations())
    duration = data["metrics"][0]
    assert duration["name"] == "http.server.request.duration"
    assert duration["prometheus"]["name"] == "http_server_request_duration_seconds"
    assert "http.route" in [a["name"] for a in duration["attributes"]]


def test_text_output_has_a_table_per_integration() -> None:
    result = CliRunner().invoke(_command(), ["metrics"], env={"COLUMNS": "250"})
    assert result.exit_code == 0, result.output
    catalog = load_catalog()
    for integration in catalog.ordered_integrations():
        assert f"\n{integration}" in "\n" + result.output
    for spec in catalog.metrics:
        assert spec.name in result.output
    assert f"{len(catalog.metrics)} metrics in {len(catalog.integrations())} integrations." in (
        result.output
    )
