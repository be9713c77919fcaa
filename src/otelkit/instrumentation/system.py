"""System and process metrics from psutil (being written: see issue 5)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from opentelemetry.sdk.metrics import MeterProvider


def install(meter_provider: MeterProvider) -> None:
    """Register the observable system and process instruments on ``meter_provider``."""
