"""Rules and dashboards for native histograms: the same questions, asked of native series.

With ``native_histograms=True`` the generated PromQL reads a histogram as one series: no
``_bucket``, ``_count``, ``_sum`` or ``le`` left, counts through ``histogram_count()``, a
latency SLO's "requests under the bound" through ``histogram_fraction()``; promtool accepts the
result, and the recording rules keep their names.
"""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING

import pytest

from otelkit.ops._native import histogram_families, native_expr
from otelkit.ops.catalog import load_catalog
from otelkit.ops.dashboard import generate as generate_dashboard
from otelkit.ops.rules import SLO, Thresholds, generate, render_yaml
from tests.ops.rules.helpers import CHECKOUT, cli, promtool, run_cli

if TYPE_CHECKING:
    from pathlib import Path

SLOS = (CHECKOUT, SLO("checkout-latency", 99, latency=0.25, route="/checkout"))
FAMILY = "http_server_request_duration_seconds"


@pytest.mark.parametrize(
    ("classic", "native"),
    [
        (
            f'sum by (job, http_route, le) (rate({FAMILY}_bucket{{job="shop"}}[5m]))',
            f'sum by (job, http_route) (rate({FAMILY}{{job="shop"}}[5m]))',
        ),
        (
            f"sum by (job) (rate({FAMILY}_count[5m]))",
            f"sum by (job) (histogram_count(rate({FAMILY}[5m])))",
        ),
        (
            f'rate({FAMILY}_bucket{{job="shop", le="0.25"}}[5m])',
            f'(histogram_fraction(0, 0.25, rate({FAMILY}{{job="shop"}}[5m]))'
            f' * histogram_count(rate({FAMILY}{{job="shop"}}[5m])))',
        ),
        (f"rate({FAMILY}_sum[1m])", f"histogram_sum(rate({FAMILY}[1m]))"),
        (
            f"histogram_quantile(0.95, sum by (le) (rate({FAMILY}_bucket[5m])))",
            f"histogram_quantile(0.95, sum (rate({FAMILY}[5m])))",
        ),
        (f"job:{FAMILY}_bucket:rate5m", f"job:{FAMILY}_bucket:rate5m"),  # a rule's name stays
        ("sum(rate(orders_count_total[5m]))", "sum(rate(orders_count_total[5m]))"),
    ],
)
def test_classic_promql_becomes_native(classic: str, native: str) -> None:
    assert native_expr(classic, [FAMILY]) == native


def _left_over(text: str, families: tuple[str, ...]) -> list[str]:
    """Histogram series of the classic form still read somewhere in ``text``."""
    names = "|".join(re.escape(f) for f in families)
    return re.findall(rf"(?<![\w:])(?:{names})_(?:bucket|count|sum)(?![\w:])|\ble=", text)


def test_native_rules_read_no_classic_series_and_promtool_accepts_them(tmp_path: Path) -> None:
    catalog = load_catalog(None)
    thresholds = Thresholds.load(environ={})
    classic = generate(catalog, service="shop", slos=SLOS, thresholds=thresholds)
    native = generate(
        catalog, service="shop", slos=SLOS, thresholds=thresholds, native_histograms=True
    )
    text = render_yaml(native)
    assert _left_over(text, histogram_families(catalog)) == []
    assert "histogram_count(" in text
    assert "histogram_fraction(0, 0.25," in text
    recorded = [[rule.get("record") for rule in group["rules"]] for group in classic["groups"]]
    assert recorded == [[r.get("record") for r in g["rules"]] for g in native["groups"]]
    path = tmp_path / "rules.yaml"
    path.write_text(text)
    checked = promtool("check", "rules", str(path))
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_native_dashboard_queries_read_no_classic_series() -> None:
    catalog = load_catalog(None)
    model = generate_dashboard(catalog, service="shop", native_histograms=True)
    text = json.dumps(model)
    assert _left_over(text, histogram_families(catalog)) == []
    assert "histogram_quantile(0.95, sum by (" in text
    assert text != json.dumps(generate_dashboard(catalog, service="shop"))


def test_the_commands_follow_the_applications_histogram_setting() -> None:
    native = {"OTELKIT_HISTOGRAM_AGGREGATION": "base2_exponential_bucket_histogram"}
    rules = run_cli("rules", "--service", "shop", env=native).stdout
    assert f"histogram_count(rate({FAMILY}" in rules
    assert f"{FAMILY}_count" not in run_cli("dashboard", env=native).stdout
    assert f"{FAMILY}_count" in run_cli("rules", "--service", "shop").stdout
    refused = cli("rules", env={"OTELKIT_HISTOGRAM_AGGREGATION": "sparse"})
    assert refused.returncode == 2
    assert "OTELKIT_HISTOGRAM_AGGREGATION" in refused.stderr
