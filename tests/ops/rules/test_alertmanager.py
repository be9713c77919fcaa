"""The generated Alertmanager configuration: valid for amtool, and routing by severity."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from otelkit.ops.rules import generate_alertmanager, render_alertmanager
from tests.ops.rules.helpers import amtool

if TYPE_CHECKING:
    from pathlib import Path


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "alertmanager.yml"
    path.write_text(render_alertmanager(generate_alertmanager()))
    return path


def test_amtool_accepts_the_configuration(config: Path) -> None:
    """``amtool check-config`` finds the route, three receivers and the inhibit rules."""
    result = amtool("check-config", str(config))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "3 receivers" in result.stdout
    assert "2 inhibit rules" in result.stdout


@pytest.mark.parametrize(
    ("severity", "receiver"), [("critical", "paging"), ("warning", "chat"), ("info", "log")]
)
def test_each_severity_reaches_its_receiver(config: Path, severity: str, receiver: str) -> None:
    """critical pages, warning goes to chat, info is only kept (logged) in Alertmanager."""
    result = amtool(
        "config",
        "routes",
        "test",
        f"--config.file={config}",
        "alertname=HighErrorRate",
        "job=shop",
        f"severity={severity}",
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip() == receiver


def test_no_secret_is_written_into_the_file(config: Path) -> None:
    """Credentials are read from files the operator provisions, never embedded."""
    text = config.read_text()
    assert "routing_key_file: /etc/alertmanager/secrets/" in text
    assert "api_url_file: /etc/alertmanager/secrets/" in text
    assert "routing_key:" not in text
    assert "api_url:" not in text


def test_the_repeat_interval_follows_the_setting(tmp_path: Path) -> None:
    """``repeat_interval`` is the one of the in-process alerts (OTELKIT_ALERT_REPEAT_INTERVAL)."""
    path = tmp_path / "am.yml"
    path.write_text(render_alertmanager(generate_alertmanager(repeat_interval_s=3600)))
    assert amtool("check-config", str(path)).returncode == 0
    assert "repeat_interval: 1h" in path.read_text()
