"""Installing the system metrics: psutil or a clear message, and once per meter provider.

psutil is an optional extra (``otelkit[system]``) and is imported here only. Without it,
``install()`` raises ``ConfigError`` naming the extra when the user asked for ``system`` by name,
and otherwise logs one warning per process and installs nothing.
"""

from __future__ import annotations

import logging
import os
import threading
import weakref
from typing import TYPE_CHECKING

from otelkit._errors import ConfigError
from otelkit.instrumentation.system._catalog import EXTRA_HINT
from otelkit.instrumentation.system._collector import SystemMetrics
from otelkit.instrumentation.system._reader import PsutilReader

if TYPE_CHECKING:
    from opentelemetry.sdk.metrics import MeterProvider

__all__ = ["available", "install"]

logger = logging.getLogger("otelkit")

_installed_lock = threading.Lock()
_installed: weakref.WeakSet[MeterProvider] = weakref.WeakSet()
_warned = False


def available(*, required: bool = False) -> bool:
    """Whether psutil can be imported.

    When it cannot: with ``required`` (the user asked for ``system`` by name) raise
    ``ConfigError`` naming the extra; otherwise log one warning per process and return False.
    """
    global _warned
    try:
        import psutil  # noqa: F401
    except ImportError:
        if required:
            raise ConfigError(
                "OTELKIT_INSTRUMENT (or instrument=) lists 'system', whose system and process "
                f"metrics need psutil, which is not installed: {EXTRA_HINT}."
            ) from None
        if not _warned:
            _warned = True
            logger.warning(
                "otelkit: system and process metrics are off because psutil is not installed "
                "(%s, or OTELKIT_SYSTEM_METRICS=off to silence this)",
                EXTRA_HINT,
            )
        return False
    return True


def install(
    meter_provider: MeterProvider, *, required: bool = False, detail: bool = False
) -> SystemMetrics | None:
    """Register the observable system and process instruments on ``meter_provider`` (with
    ``detail``, those of ``OTELKIT_SYSTEM_METRICS_DETAIL`` too).

    Without psutil: ``ConfigError`` if ``required``, else one warning and nothing installed.
    A provider that already has them is left as it is (None is returned).
    """
    if not available(required=required):
        return None
    import psutil

    with _installed_lock:
        if meter_provider in _installed:
            logger.debug("otelkit: system metrics already installed on this meter provider")
            return None
        _installed.add(meter_provider)
    return SystemMetrics(
        meter_provider,
        PsutilReader(psutil, detail=detail).read,
        load_average=hasattr(os, "getloadavg"),
        file_descriptors=hasattr(psutil.Process, "num_fds"),
        detail=detail,
    )
