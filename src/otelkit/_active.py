"""The running configuration, in one place every feature reads it from.

``init_telemetry()`` sets it and ``Telemetry.shutdown()`` clears it; instrumentations, the
business API, health and the fork hooks only read it. Keeping it in a module of its own, below
every feature, is what lets the features depend on the running configuration without importing
the runtime that builds it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from otelkit.runtime._telemetry import Telemetry

_current: Telemetry | None = None


def current() -> Telemetry | None:
    """The handle of the running configuration, None before ``init_telemetry()`` or after
    its ``shutdown()``."""
    return _current


def set_current(telemetry: Telemetry | None) -> None:
    global _current
    _current = telemetry
