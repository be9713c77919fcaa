"""The committed examples and docs/runbooks.md are what the current code generates."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from otelkit.ops.rules._docs import render_all

ROOT = Path(__file__).resolve().parents[3]


@pytest.mark.parametrize("relative", sorted(render_all()))
def test_the_committed_file_is_current(relative: str) -> None:
    """Regenerate with `nox -s docs` (or `python -m otelkit.ops.rules`) when this fails."""
    assert (ROOT / relative).read_text(encoding="utf-8") == render_all()[relative]


def test_every_runbook_url_points_at_a_section() -> None:
    rules = yaml.safe_load((ROOT / "docs/generated/prometheus-rules.yaml").read_text())
    headings = re.findall(r"^## (\w+)$", (ROOT / "docs/runbooks.md").read_text(), re.MULTILINE)
    anchors = {h.lower() for h in headings}
    urls = [
        r["annotations"]["runbook_url"] for g in rules["groups"] for r in g["rules"] if "alert" in r
    ]
    assert urls
    assert {url.rpartition("#")[2] for url in urls} == anchors


def test_the_operations_page_names_every_alert() -> None:
    """docs/operations.md lists each generated alert (a new alert needs its line there)."""
    rules = yaml.safe_load((ROOT / "docs/generated/prometheus-rules.yaml").read_text())
    alerts = {r["alert"] for g in rules["groups"] for r in g["rules"] if "alert" in r}
    page = (ROOT / "docs/operations.md").read_text()
    assert {a for a in alerts if f"`{a}`" not in page} == set()
