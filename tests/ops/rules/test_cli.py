"""``otelkit rules``: what it writes, and its exit codes (0 written, 2 bad input)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import yaml

from tests.ops.rules.helpers import amtool, cli, promtool, run_cli

if TYPE_CHECKING:
    from pathlib import Path


def test_with_the_app_it_writes_only_the_integrations_the_app_uses(tmp_path: Path) -> None:
    """--app imports the shop: its SLOs (registered at import) and its business metric count."""
    rules, routing = tmp_path / "rules.yaml", tmp_path / "alertmanager.yml"
    run_cli(
        "rules",
        "--app",
        "ops_shop:app",
        "--service",
        "shop",
        "--slo",
        "latency=0.25s@95",
        "--output",
        str(rules),
        "--alertmanager",
        str(routing),
    )
    assert promtool("check", "rules", str(rules)).returncode == 0
    assert amtool("check-config", str(routing)).returncode == 0
    groups = [g["name"] for g in yaml.safe_load(rules.read_text())["groups"]]
    assert "otelkit-http" in groups
    assert "otelkit-db" in groups
    slos = ("orders", "orders-latency", "checkout", "service-latency")
    assert [g for g in groups if g.startswith("otelkit-slo-")] == [
        group for slo in slos for group in (f"otelkit-slo-{slo}", f"otelkit-slo-{slo}-budget")
    ]


def test_without_output_it_prints_the_rules(tmp_path: Path) -> None:
    result = run_cli("rules", "--cpu", "95%", "--runbook-url", "https://wiki.example/runbooks")
    document = yaml.safe_load(result.stdout)
    alerts = {r["alert"]: r for g in document["groups"] for r in g["rules"] if "alert" in r}
    assert alerts["HighCpuUsage"]["expr"].endswith("> 0.95")
    assert alerts["HighCpuUsage"]["annotations"]["runbook_url"] == (
        "https://wiki.example/runbooks#highcpuusage"
    )


def test_a_bad_flag_exits_2_naming_it() -> None:
    result = cli("rules", "--disk", "95")
    assert result.returncode == 2
    assert "--disk='95' is not valid" in result.stderr
    assert result.stdout == ""


def test_a_bad_variable_exits_2_naming_it() -> None:
    result = cli("rules", env={"OTELKIT_ALERT_ERROR_RATE_FOR": "soon"})
    assert result.returncode == 2
    assert "OTELKIT_ALERT_ERROR_RATE_FOR='soon' is not valid" in result.stderr


def test_a_bad_slo_exits_2() -> None:
    result = cli("rules", "--slo", "availability=100")
    assert result.returncode == 2
    assert "objective=100.0 is not valid" in result.stderr


def test_an_app_that_cannot_be_imported_exits_2() -> None:
    result = cli("rules", "--app", "no_such_module:app")
    assert result.returncode == 2
    assert "no_such_module" in result.stderr
