"""The relabelling recipe of docs/business-metrics.md, as printed there, in a real Prometheus:
business metrics get the team's prefix (and one an old name), otelkit's own keep theirs."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import yaml

import otelkit
from tests.fixtures.servers import free_port, require_binary

if TYPE_CHECKING:
    from tests.fixtures.prometheus import PrometheusServer

pytestmark = pytest.mark.integration

DOC = Path(__file__).resolve().parents[2] / "docs" / "business-metrics.md"


def recipe() -> dict[str, Any]:
    """The Prometheus configuration the page prints (its only YAML block)."""
    (block,) = re.findall(r"```yaml\n(.*?)```", DOC.read_text(), re.S)
    config: dict[str, Any] = yaml.safe_load(block)
    return config


@pytest.fixture(autouse=True)
def _no_configuration_from_the_shell(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith(("OTEL_", "OTELKIT_")) and name != "OTELKIT_REQUIRE_SERVERS":
            monkeypatch.delenv(name)


def test_promtool_accepts_the_recipe(tmp_path: Path) -> None:
    promtool = require_binary("promtool", "/usr/bin/promtool")
    config = tmp_path / "prometheus.yml"
    config.write_text(yaml.safe_dump(recipe()))

    checked = subprocess.run(
        [promtool, "check", "config", str(config)], capture_output=True, text=True, check=False
    )

    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_the_recipe_prefixes_business_metrics_and_keeps_one_old_name(
    prometheus: PrometheusServer,
) -> None:
    port = free_port()
    telemetry = otelkit.init_telemetry(service_name="shop", prometheus_port=port)
    try:
        otelkit.count("orders.completed", 3)
        otelkit.record("model.score", 0.4, buckets=[0.25, 0.5, 0.75, 1])
        otelkit.set_gauge("orders.backlog", 17)
        (job,) = recipe()["scrape_configs"]

        prometheus.scrape(
            "relabel-recipe",
            target=f"127.0.0.1:{port}",
            metric_relabel_configs=job["metric_relabel_configs"],
        )

        prometheus.wait_for('integrityx_orders_total{job="relabel-recipe"}', 3)
        prometheus.wait_for('shop_model_score_count{job="relabel-recipe"}', 1)
        prometheus.wait_for('shop_model_score_bucket{job="relabel-recipe",le="0.5"}', 1)
        prometheus.wait_for('shop_orders_backlog{job="relabel-recipe"}', 17)
        assert prometheus.query('orders_completed_total{job="relabel-recipe"}') == []
        assert prometheus.query('model_score_count{job="relabel-recipe"}') == []
        # otelkit's own series are no business metrics: their names stay
        prometheus.wait_for('count(target_info{job="relabel-recipe"})', 1)
        assert prometheus.query('{__name__=~"shop_target_info|shop_otelkit_.*"}') == []
    finally:
        telemetry.shutdown()
