"""Without SQLAlchemy, the explicit call names the extra and auto-instrumentation skips it."""

from __future__ import annotations

import sys

import pytest

import otelkit
from otelkit.instrumentation.sqlalchemy import install_auto, instrument_sqlalchemy

pytestmark = pytest.mark.core_only


@pytest.fixture(autouse=True)
def _no_sqlalchemy(monkeypatch: pytest.MonkeyPatch) -> None:
    """As if it were not installed, also where it is (None in sys.modules fails the import)."""
    monkeypatch.setitem(sys.modules, "sqlalchemy", None)


def test_instrument_sqlalchemy_names_the_extra_to_install() -> None:
    with pytest.raises(otelkit.ConfigError, match=r"pip install 'otelkit\[sqlalchemy\]'"):
        instrument_sqlalchemy(object())


def test_auto_instrumentation_skips_sqlalchemy_quietly() -> None:
    assert install_auto() is False


def test_naming_sqlalchemy_in_otelkit_instrument_fails_at_init() -> None:
    """Asked for by name, a missing integration fails before anything starts."""
    with pytest.raises(otelkit.ConfigError, match=r"pip install 'otelkit\[sqlalchemy\]'"):
        otelkit.init_telemetry("core", prometheus_port=0, instrument="sqlalchemy")


def test_auto_instrumentation_still_starts_without_sqlalchemy() -> None:
    telemetry = otelkit.init_telemetry("core", prometheus_port=0, instrument="auto")
    assert telemetry.enabled
    telemetry.shutdown()
