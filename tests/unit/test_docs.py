"""The documentation is generated from the code, and a test keeps it that way."""

from __future__ import annotations

from pathlib import Path

from otelkit import _config_docs

ROOT = Path(__file__).resolve().parents[2]


def test_configuration_page_matches_the_settings_declarations() -> None:
    """docs/configuration.md is exactly what `nox -s docs` generates (run it after a change)."""
    generated = _config_docs.render(_config_docs.builtin_plugins())
    assert (ROOT / "docs" / "configuration.md").read_text() == generated
