"""What every fault and accounting test here shares."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

import pytest

from otelkit import _sdk_compat

if TYPE_CHECKING:
    from collections.abc import Iterator


@pytest.fixture(autouse=True)
def _no_otel_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    """Unset the shell's OTEL_*/OTELKIT_* variables: each test configures what it tests."""
    for name in list(os.environ):
        if name.startswith(("OTEL_", "OTELKIT_")) and name != "OTELKIT_REQUIRE_SERVERS":
            monkeypatch.delenv(name)


@pytest.fixture
def patch() -> Iterator[pytest.MonkeyPatch]:
    """A monkeypatch of the SDK's seams, undone and the seams probed again afterwards."""
    patcher = pytest.MonkeyPatch()
    yield patcher
    patcher.undo()
    _sdk_compat.probe_all()
