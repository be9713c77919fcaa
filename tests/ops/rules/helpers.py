"""Shared by the rule tests: run the CLI, generate rule files, run promtool and amtool."""

from __future__ import annotations

import os
import subprocess
import sys
from typing import TYPE_CHECKING

from otelkit.ops.rules import SLO, Thresholds, generate, render_yaml
from tests.fixtures.servers import require_binary
from tests.ops.conftest import APPS_DIR

if TYPE_CHECKING:
    from collections.abc import Iterable
    from pathlib import Path

    from otelkit.ops.catalog import Catalog

PROMTOOL_DIR = __import__("pathlib").Path(__file__).parent / "promtool"
"""The checked-in ``promtool test rules`` files; they read ``rules.yaml`` beside them."""

CHECKOUT = SLO("checkout", 99.9, route="/checkout")
"""The SLO the checked-in promtool tests exercise."""


def run_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """``otelkit <args>`` in a subprocess, the shop's directory importable; fails on exit != 0."""
    result = cli(*args, env=env)
    assert result.returncode == 0, result.stderr
    return result


def cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "OTELKIT_"))}
    base.update(
        PYTHONPATH=os.pathsep.join(filter(None, [str(APPS_DIR), base.get("PYTHONPATH")])),
        OTEL_METRICS_EXPORTER="none",  # importing the shop must not open a metrics port
        SHOP_DATABASE_URL="postgresql+psycopg://nobody@127.0.0.1:1/unused",
    )
    base.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "otelkit", *args],
        env=base,
        cwd=APPS_DIR,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def write_rules(
    directory: Path,
    catalog: Catalog,
    slos: Iterable[SLO] = (),
    service: str | None = "shop",
    noncritical_checks: Iterable[str] = (),
) -> Path:
    """Generate with default thresholds (no OTELKIT_ALERT_* read) into ``directory/rules.yaml``."""
    rules = generate(
        catalog,
        service=service,
        slos=slos,
        thresholds=Thresholds.load(environ={}),
        noncritical_checks=noncritical_checks,
    )
    path = directory / "rules.yaml"
    path.write_text(render_yaml(rules))
    return path


def promtool(*args: str) -> subprocess.CompletedProcess[str]:
    binary = require_binary("promtool", "/usr/bin/promtool")
    return subprocess.run([binary, *args], capture_output=True, text=True, timeout=300, check=False)


def amtool(*args: str) -> subprocess.CompletedProcess[str]:
    binary = require_binary("amtool", "/usr/bin/amtool")
    return subprocess.run([binary, *args], capture_output=True, text=True, timeout=60, check=False)
