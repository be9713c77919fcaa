"""Alerting with only the core dependencies: built-in rules work, a rules file names the extra."""

from __future__ import annotations

import importlib.util
from typing import TYPE_CHECKING

import pytest

import otelkit
from otelkit.alerting._engine import AlertEngine
from otelkit.config._alerting import load_alert_settings

if TYPE_CHECKING:
    from pathlib import Path

pytestmark = pytest.mark.core_only


def test_pyyaml_is_really_absent() -> None:
    assert importlib.util.find_spec("yaml") is None


def test_the_built_in_rules_need_no_extra() -> None:
    engine = AlertEngine(load_alert_settings(environ={"OTELKIT_ALERTS": "on"}))
    assert len(engine.rules) == 5
    assert engine.evaluate(0.0, None) == []


def test_a_rules_file_without_pyyaml_names_the_extra(tmp_path: Path) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text("rules: []\n")
    settings = load_alert_settings(environ={"OTELKIT_ALERT_RULES_FILE": str(rules)})
    with pytest.raises(otelkit.ConfigError, match=r"pip install 'otelkit\[alerting\]'"):
        AlertEngine(settings)
