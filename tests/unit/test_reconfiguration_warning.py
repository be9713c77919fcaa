"""Reconfiguring explains once that the global providers stay on the first configuration."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import otelkit
from otelkit.runtime import _telemetry

if TYPE_CHECKING:
    import pytest


def test_the_global_providers_warning_is_logged_once_per_process(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(_telemetry, "_reconfiguration_explained", False)
    with caplog.at_level(logging.WARNING, logger="otelkit"):
        for _ in range(4):  # the first may be the process's first configuration
            otelkit.init_telemetry("svc", exporters="memory").shutdown()
    explained = [r for r in caplog.records if "global providers" in r.getMessage()]
    assert len(explained) == 1
